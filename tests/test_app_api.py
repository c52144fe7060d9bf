"""The studio through its HTTP API (gradio_client), served over an engine with tiny random weights.

Every tab's api_name returns images of the expected size; bad inputs come back as clean errors; the parameters a
generated PNG carries survive the PNG-info tab.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status
from PIL import Image
from ui_fixtures import TINY_STEPS, studio_url, ui_model_root  # noqa: F401 (fixtures)

from ldm_core.errors import CancelledError, InvalidRequestError
from ldm_core.infotext import read_png_infotext
from ldm_core.requests import GenerationResult, ProgressEvent

NATIVE = 128  # the built-in family's native size
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def client(studio_url: str) -> Client:  # noqa: F811
    return Client(studio_url, verbose=False)


def _images(gallery: list[dict]) -> list[Image.Image]:
    return [Image.open(item["image"]) for item in gallery]


def test_every_tab_has_a_named_endpoint(client: Client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/text2img", "/semantic", "/inpaint", "/upscale", "/png_info", "/status", "/cancel"):
        assert name in endpoints


def test_text2img_returns_a_batch_at_native_size_with_the_seed_used(client: Client):
    gallery, seed_used, infotext = client.predict(
        prompt="a green valley", steps=TINY_STEPS, seed=7, batch_size=2, upscale_x4=False, api_name="/text2img"
    )
    images = _images(gallery)
    assert [image.size for image in images] == [(NATIVE, NATIVE)] * 2
    assert seed_used == 7
    assert "Seed: 7" in infotext and infotext.startswith("a green valley")


def test_text2img_honours_width_and_height(client: Client):
    gallery, _, _ = client.predict(
        prompt="sky", steps=TINY_STEPS, seed=1, width=96, height=64, upscale_x4=False, api_name="/text2img"
    )
    assert _images(gallery)[0].size == (96, 64)


def test_random_seed_is_reported(client: Client):
    _, seed_used, infotext = client.predict(prompt="sky", steps=TINY_STEPS, seed=-1, api_name="/text2img")
    assert seed_used >= 0 and f"Seed: {seed_used}" in infotext


def test_semantic_map_from_an_example(client: Client):
    color_map = handle_file(str(EXAMPLES / "semantic" / "lake_mountains.png"))
    gallery, _, infotext = client.predict(
        semantic_map={"background": color_map, "layers": [], "composite": None},
        steps=TINY_STEPS,
        seed=3,
        output_size="Model's size",
        upscale_x4=False,
        api_name="/semantic",
    )
    assert _images(gallery)[0].size == (NATIVE, NATIVE)
    assert "Seed: 3" in infotext


def test_inpaint_keeps_the_input_size(client: Client, tmp_path: Path):
    image_path = tmp_path / "image.png"
    Image.fromarray(np.full((NATIVE, NATIVE, 3), 120, np.uint8)).save(image_path)
    layer = np.zeros((NATIVE, NATIVE, 4), np.uint8)
    layer[32:96, 32:96] = (255, 43, 214, 180)  # the brush colour; only alpha > 0 matters
    layer_path = tmp_path / "layer.png"
    Image.fromarray(layer).save(layer_path)
    gallery, _, _ = client.predict(
        image_and_mask={
            "background": handle_file(str(image_path)),
            "layers": [handle_file(str(layer_path))],
            "composite": None,
        },
        prompt="a house",
        steps=TINY_STEPS,
        seed=5,
        api_name="/inpaint",
    )
    assert _images(gallery)[0].size == (NATIVE, NATIVE)


def test_inpaint_without_a_mask_is_a_clean_error(client: Client):
    image = handle_file(str(EXAMPLES / "images" / "lake_mountains.png"))
    with pytest.raises(AppError, match="mask: paint the area to repaint"):
        client.predict(image_and_mask={"background": image, "layers": [], "composite": None}, api_name="/inpaint")


def test_upscale_is_four_times_larger_with_a_before_after_pair(client: Client):
    low_res = handle_file(str(EXAMPLES / "images" / "lake_mountains_64px.png"))
    (before, after), _, _ = client.predict(image=low_res, steps=TINY_STEPS, seed=2, api_name="/upscale")
    assert Image.open(after).size == (256, 256)
    assert Image.open(before).size == (256, 256)


def test_an_invalid_request_comes_back_as_the_engines_message(client: Client):
    with pytest.raises(AppError, match="width"):
        client.predict(prompt="sky", steps=TINY_STEPS, width=100, api_name="/text2img")


def test_png_info_round_trip(client: Client):
    gallery, seed_used, infotext = client.predict(
        prompt="a blue lake", negative_prompt="house", steps=TINY_STEPS, seed=11, api_name="/text2img"
    )
    png = gallery[0]["image"]
    assert read_png_infotext(png) == infotext  # the gallery serves PNGs that carry their parameters
    raw, parsed = client.predict(image=handle_file(png), api_name="/png_info")
    assert raw == infotext
    assert parsed["Prompt"] == "a blue lake" and parsed["Negative prompt"] == "house"
    assert parsed["Seed"] == seed_used == 11 and parsed["Steps"] == TINY_STEPS


def test_status_lists_every_task(client: Client):
    status = client.predict(api_name="/status")
    for task in ("text-to-image", "semantic map", "inpainting", "super-resolution"):
        assert f"{task}" in status and "✗" not in status


# ---- the runner alone (no server): error mapping and cancellation, with stand-in engines ----------------------------
class _RaisingEngine:
    def __init__(self, error: Exception):
        self.error = error

    def run(self, request, progress=None, cancel=None) -> GenerationResult:
        raise self.error


class _WaitingEngine:
    """Runs until cancelled, like a long denoising loop."""

    started = threading.Event()

    def run(self, request, progress=None, cancel=None) -> GenerationResult:
        self.started.set()
        assert cancel is not None and cancel.wait(timeout=10)
        raise CancelledError("Cancelled; nothing was saved.")


class _PreviewingEngine:
    """Three steps, each with a latent preview, then one image."""

    def run(self, request, progress=None, cancel=None) -> GenerationResult:
        for step in range(3):
            progress(ProgressEvent(step=step, total_steps=3, preview=Image.new("RGB", (8, 8), (step, 0, 0))))
        image = Image.new("RGB", (16, 16))
        return GenerationResult(task="text2img", images=[image], seed=1, model="m", infotexts=["x"], warnings=[])


def _request():
    from ldm_core.requests import TextToImageRequest

    return TextToImageRequest(prompt="sky", num_inference_steps=2)


def test_studio_errors_keep_their_message():
    from ui.runner import EngineRunner

    runner = EngineRunner(_RaisingEngine(InvalidRequestError("width", 100, "must be a multiple of 8")))
    with pytest.raises(gr.Error, match="width: must be a multiple of 8"):
        runner.run(_request(), session="s")


def test_unexpected_errors_are_logged_and_shown_generically(caplog: pytest.LogCaptureFixture):
    from ui.runner import GENERIC_ERROR, EngineRunner

    runner = EngineRunner(_RaisingEngine(RuntimeError("CUDA kernel exploded")))
    with pytest.raises(gr.Error) as raised:
        runner.run(_request(), session="s")
    assert raised.value.message == GENERIC_ERROR
    assert "CUDA kernel exploded" in caplog.text  # the traceback is in the log, not in the browser


def test_previews_stream_before_the_result(monkeypatch: pytest.MonkeyPatch):
    from ui import runner as runner_module

    monkeypatch.setattr(runner_module, "PREVIEW_INTERVAL_S", 0.0)
    items = list(runner_module.EngineRunner(_PreviewingEngine()).stream(_request(), session="s"))
    assert [item.getpixel((0, 0))[0] for item in items[:-1]] == [0, 1, 2]
    assert isinstance(items[-1], GenerationResult) and items[-1].images[0].size == (16, 16)


def test_closing_the_stream_cancels_the_run():
    """Gradio closes a handler's generator when the browser leaves: the engine must stop, not finish for nobody."""
    from ui.runner import EngineRunner

    cancelled = threading.Event()

    class PreviewThenWait:
        def run(self, request, progress=None, cancel=None) -> GenerationResult:
            progress(ProgressEvent(step=0, total_steps=9, preview=Image.new("RGB", (8, 8))))
            if cancel.wait(timeout=10):
                cancelled.set()
            raise CancelledError("Cancelled by the user; nothing was saved.")

    stream = EngineRunner(PreviewThenWait()).stream(_request(), session="s")
    assert isinstance(next(stream), Image.Image)
    stream.close()
    assert cancelled.wait(timeout=10)


def test_cancel_stops_only_that_sessions_run():
    from ui.runner import EngineRunner

    engine = _WaitingEngine()
    runner = EngineRunner(engine)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            runner.run(_request(), session="a")
        except BaseException as error:  # noqa: BLE001 (collected for the assertion)
            failure.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    assert engine.started.wait(timeout=10)
    runner.cancel("b")  # another browser's cancel does nothing here
    worker.join(timeout=0.2)
    assert worker.is_alive()
    runner.cancel("a")
    worker.join(timeout=10)
    assert len(failure) == 1 and isinstance(failure[0], gr.Error) and failure[0].title == "Cancelled"


def test_the_cancel_endpoint_stops_the_callers_running_job():
    """/cancel from the same client session ends its running /text2img with the engine's CancelledError message."""
    from ui_fixtures import free_port

    from ui import build_demo

    class RunsUntilCancelled:
        def run(self, request, progress=None, cancel=None) -> GenerationResult:
            if cancel.wait(timeout=60):
                raise CancelledError("Cancelled by the user; nothing was saved.")
            raise AssertionError("never cancelled")

        def task_status(self) -> dict:
            return {"text2img": None}

        def describe(self) -> dict:
            return {"preset": "stand-in"}

    demo = build_demo(RunsUntilCancelled())
    demo.queue()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False)
        job = client.submit(prompt="sky", api_name="/text2img")
        deadline = time.monotonic() + 60
        while job.status().code != Status.PROCESSING and time.monotonic() < deadline:
            time.sleep(0.1)
        client.predict(api_name="/cancel")
        with pytest.raises(AppError, match="Cancelled by the user"):
            job.result(timeout=60)
    finally:
        demo.close()


def test_importing_app_builds_the_demo_without_loading_a_model():
    import app

    assert isinstance(app.demo, gr.Blocks)
    args = app.parse_args(["--preset", "sd15", "--offload", "model", "--vae-tiling", "--port", "7000"])
    config = app.engine_config(args)
    assert (config.preset, config.offload, config.vae_tiling) == ("sd15", "model", True)
    sources = app.engine_config(app.parse_args(["--source", "text2img=/m/sd.safetensors", "--source", "upscale=a/b"]))
    assert sources.sources == {"text2img": "/m/sd.safetensors", "upscale": "a/b"}
    with pytest.raises(SystemExit, match="TASK=WHERE"):
        app.parse_sources(["text2img"])


def test_auth_file_lines(tmp_path: Path):
    import app

    logins = tmp_path / "logins.txt"
    logins.write_text("# team\nana:secret\n\nbo:pa:ss\n")
    args = app.parse_args(["--auth", "me:pw", "--auth-file", str(logins)])
    assert app.read_auth(args) == [("me", "pw"), ("ana", "secret"), ("bo", "pa:ss")]
    with pytest.raises(SystemExit, match="user:pass"):
        app.read_auth(app.parse_args(["--auth", "nopassword"]))
