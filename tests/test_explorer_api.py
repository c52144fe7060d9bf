"""The "Inside the model" tab through its HTTP API (gradio_client), over an engine with tiny random weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from ui_fixtures import TINY_STEPS, studio_url, ui_model_root  # noqa: F401 (fixtures)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NATIVE = 128
CAPTION_BANDS = 2 * 14  # a trajectory picture: the step caption, then "current x_t" above the image


@pytest.fixture(scope="module")
def client(studio_url: str) -> Client:  # noqa: F811
    return Client(studio_url, verbose=False)


def test_each_section_has_an_endpoint(client: Client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/explore_autoencoder", "/explore_trajectory", "/explore_attention", "/explore_strips"):
        assert name in endpoints


def test_autoencoder_endpoint(client: Client):
    channels, reconstruction, edited, summary = client.predict(
        image=handle_file(str(EXAMPLES / "images" / "beach.png")),
        edit="zero",
        channel=1,
        api_name="/explore_autoencoder",
    )
    assert len(channels) >= 3 and channels[1]["caption"].startswith("channel 1:")
    assert Image.open(reconstruction).size == (NATIVE, NATIVE)
    assert Image.open(edited).size == (NATIVE, NATIVE)
    assert "f = " in summary and "PSNR" in summary and "channel 1 set to 0" in summary


def test_autoencoder_errors_name_the_field(client: Client):
    with pytest.raises(AppError, match="image"):
        client.predict(image=None, api_name="/explore_autoencoder")
    with pytest.raises(AppError, match="channel"):
        client.predict(
            image=handle_file(str(EXAMPLES / "images" / "beach.png")),
            edit="zero",
            channel=40,
            api_name="/explore_autoencoder",
        )


def test_trajectory_of_the_text_to_image_tab_ends_on_its_image(client: Client):
    gallery, seed_used, _ = client.predict(
        prompt="trees by a lake", steps=3, seed=-1, upscale_x4=False, api_name="/text2img"
    )
    tab_image = np.asarray(Image.open(gallery[0]["image"]).convert("RGB"))
    frame, caption, _, animation, frames, summary = client.predict(
        source="text2img", every=2, kind="gif", api_name="/explore_trajectory"
    )
    assert f"seed {seed_used}" in summary and caption == "output (after 3 steps)"
    assert [item["caption"].split("   ")[0] for item in frames] == ["step 1/3", "step 3/3", "output (after 3 steps)"]
    last = np.asarray(Image.open(frame).convert("RGB"))
    output = last[CAPTION_BANDS : CAPTION_BANDS + NATIVE, :NATIVE]
    assert np.array_equal(output, tab_image)
    with Image.open(animation) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3


def test_trajectory_of_a_prompt_and_of_a_tab_not_run_yet(client: Client):
    _, caption, _, animation, frames, _ = client.predict(
        source="prompt", prompt="sky", steps=TINY_STEPS, seed=1, every=1, api_name="/explore_trajectory"
    )
    assert len(frames) == TINY_STEPS + 1 and animation.endswith(".webp")
    with pytest.raises(AppError, match="Super-resolution has no run"):
        client.predict(source="upscale", api_name="/explore_trajectory")


def test_attention_endpoint(client: Client):
    image, word, overlay, maps = client.predict(
        prompt="a mountain under the sky", steps=TINY_STEPS, seed=3, api_name="/explore_attention"
    )
    assert Image.open(image).size == (NATIVE, NATIVE) and Image.open(overlay).size == (NATIVE, NATIVE)
    assert [item["caption"] for item in maps] == ["a", "mountain", "under (unknown to the model)", "the", "sky"]
    assert word["value"] == "mountain"  # the word shown first: the first known one of more than three letters
    assert [choice[0] for choice in word["choices"]] == [item["caption"] for item in maps]
    with pytest.raises(AppError, match="prompt"):
        client.predict(prompt=" ", api_name="/explore_attention")


def test_strips_endpoint(client: Client):
    picture, table = client.predict(
        prompt="sky",
        seed=5,
        scales="1, 7",
        steps=TINY_STEPS,
        step_counts="1, 2",
        samplers=["ddim", "euler_a"],
        api_name="/explore_strips",
    )
    assert "Seed 5" in table and "| guidance scale | 1 | 7 |" in table
    assert "| DDIM (guidance 5) |" in table and "| Euler a (guidance 5) |" in table
    assert Image.open(picture).width >= 2 * NATIVE
    with pytest.raises(AppError, match="step counts"):
        client.predict(prompt="sky", step_counts="2, many", api_name="/explore_strips")


def test_without_an_in_process_engine_the_tab_says_why():
    """Engine replicas (`--serve ray`) expose no models to hook: the tab explains, and offers no endpoints."""
    import gradio as gr

    from ldm_core.limits import Limits
    from ui.runner import EngineRunner
    from ui.tabs import explorer

    with gr.Blocks() as demo:
        explorer.build(EngineRunner(object()), Limits())
    assert not [fn.api_name for fn in demo.fns.values() if fn.api_name]
    assert [block.elem_id for block in demo.blocks.values()] == ["explorer-unavailable"]


def test_last_runs_keep_the_seed_used_one_image_and_a_bounded_number():
    from ldm_core.requests import TextToImageRequest
    from ui.tabs.explorer.common import LastRuns

    runs = LastRuns(capacity=2)
    runs.remember("s1", "text2img", TextToImageRequest(prompt="sky", seed=-1, batch_size=4), seed=99)
    assert runs.last("s1", "text2img") == TextToImageRequest(prompt="sky", seed=99, batch_size=1)
    assert runs.last("s2", "text2img") is None and runs.last("s1", "inpaint") is None
    runs.remember("s2", "text2img", TextToImageRequest(prompt="a"), seed=1)
    runs.remember("s3", "text2img", TextToImageRequest(prompt="b"), seed=2)
    assert runs.last("s1", "text2img") is None and runs.last("s3", "text2img").seed == 2
