"""Concurrent load: 50 requests across every tab from 5 API clients against the studio with a small queue.

Every request is either served or cleanly refused with gradio's "Queue is full ... try again" (none lost, no other
error), within an overall deadline; every saved PNG is complete and carries the parameters (seed, steps) of the request
that made it; no partial file is left behind. The app is served as test_app_api.py does it, on 127.0.0.1 only.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import noise_image, write_tab_inputs
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status
from PIL import Image, PngImagePlugin
from ui_fixtures import free_port

from ldm_core.infotext import PNG_KEY, read_png_infotext

REQUESTS = 50
CLIENTS = 5
MAX_QUEUE = 4
OVERALL_TIMEOUT = 300  # seconds for the whole burst; CPU runs of 1-3 tiny steps take well under a second each
SUBMIT_GAP = 0.1  # seconds between submissions: a burst, but long enough that some requests finish meanwhile
JOINING = (Status.STARTING, Status.JOINING_QUEUE)
TASKS = ("/text2img", "/semantic", "/inpaint", "/upscale", "/png_info")


@pytest.fixture(scope="module")
def studio(engine) -> Iterator[tuple[str, Path]]:
    """The session's engine (tiny family) behind a fresh server with a small queue."""
    from ui import build_demo

    for task in ("text2img", "semantic", "inpaint", "upscale"):
        engine.load(task)  # warm, as after the first requests: the burst measures the queue, not model loading
    demo = build_demo(engine)
    demo.queue(max_size=MAX_QUEUE, default_concurrency_limit=1)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, share=False
    )
    try:
        yield url, Path(engine.config.outputs_dir)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("inputs")
    files = write_tab_inputs(folder, 64)
    info = PngImagePlugin.PngInfo()
    info.add_text(PNG_KEY, "a lake\nSteps: 3, Sampler: DDIM, Seed: 42")
    noise_image(32, 32).save(folder / "with-info.png", pnginfo=info)
    return files | {"with-info": str(folder / "with-info.png")}


def request_for(index: int, files: dict[str, str]) -> tuple[str, dict, int, int]:
    """(api_name, keywords, seed, steps): seeds are unique per request (and per batch image), steps 1-3."""
    task = TASKS[index % len(TASKS)]
    seed, steps = 1000 + 10 * index, 1 + index % 3
    sampling = {"steps": steps, "seed": seed}
    if task == "/text2img":
        kwargs = {"prompt": f"request {index}", "width": 64, "height": 64, "batch_size": 1 + index % 2, **sampling}
    elif task == "/semantic":
        kwargs = {"semantic_map": {"background": handle_file(files["map"]), "layers": [], "composite": None}}
        kwargs |= sampling
    elif task == "/inpaint":
        editor = {"background": handle_file(files["photo"]), "layers": [handle_file(files["layer"])], "composite": None}
        kwargs = {"image_and_mask": editor, "prompt": "a house", **sampling}
    elif task == "/upscale":
        kwargs = {"image": handle_file(files["small"]), **sampling}
    else:
        kwargs = {"image": handle_file(files["with-info"])}
    return task, kwargs, seed, steps


def check_served(task: str, output: tuple, seed: int, steps: int) -> int:
    """Asserts the reply matches its request; returns how many images it saved."""
    if task == "/png_info":
        raw, parsed = output
        assert parsed["Seed"] == 42 and raw.startswith("a lake")
        return 0
    infotext = output[-1] if task == "/upscale" else output[2]
    assert output[1] == seed and f"Seed: {seed}" in infotext and f"Steps: {steps}," in infotext
    return len(output[0]) if task != "/upscale" else 1


def test_fifty_concurrent_requests_are_served_or_cleanly_refused(studio, inputs):
    url, outputs = studio
    already_saved = set(outputs.rglob("*.png"))
    clients = [Client(url, verbose=False, httpx_kwargs={"timeout": OVERALL_TIMEOUT}) for _ in range(CLIENTS)]
    started = time.monotonic()
    deadline = started + OVERALL_TIMEOUT
    jobs = []
    for index in range(REQUESTS):
        task, kwargs, seed, steps = request_for(index, inputs)
        job = clients[index // len(TASKS) % CLIENTS].submit(**kwargs, api_name=task)
        jobs.append((task, seed, steps, job))
        if index < len(TASKS):  # the first of each tab joins before the burst: every tab is served at least once
            while job.status().code in JOINING and not job.done() and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            time.sleep(SUBMIT_GAP)
    counts: Counter[str] = Counter()
    expected = {}  # seed -> steps, for every image a served request saved
    failures = []
    for task, seed, steps, job in jobs:
        try:
            output = job.result(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            counts["lost"] += 1
            continue
        except Exception as error:  # noqa: BLE001 (sorted below: a clean refusal or a failure)
            message = str(getattr(error, "message", error))
            if not isinstance(error, AppError) and re.search(r"(?i)queue is full.*try again", message):
                counts["refused"] += 1
            else:
                counts["other"] += 1
                failures.append(f"{task}: {type(error).__name__}: {message} at {time.monotonic() - started:.1f} s")
            continue
        saved = check_served(task, output, seed, steps)
        expected |= {seed + offset: steps for offset in range(saved)}
        counts["served"] += 1
        counts[f"served {task}"] += 1
    print(
        f"\nload: {REQUESTS} requests, {counts['served']} served, {counts['refused']} refused (queue full), "
        f"{counts['lost']} lost, {counts['other']} other errors; by tab: "
        + ", ".join(f"{task} {counts[f'served {task}']}" for task in TASKS)
    )
    for client in clients:
        client.close()
    assert failures == [] and counts["lost"] == 0
    assert counts["served"] + counts["refused"] == REQUESTS
    assert counts["refused"] >= 1  # the queue pushed back ...
    assert all(counts[f"served {task}"] >= 1 for task in TASKS)  # ... and every tab was served

    saved_pngs = sorted(set(outputs.rglob("*.png")) - already_saved)
    assert not [path for path in outputs.rglob("*") if path.name.startswith(".partial-")]
    assert len(saved_pngs) == len(expected)
    for path in saved_pngs:
        with Image.open(path) as image:
            image.verify()  # complete: every chunk present and its CRC right
        seed = int(path.stem.split("-")[1])
        infotext = read_png_infotext(path)
        assert f"Seed: {seed}," in infotext and f"Steps: {expected[seed]}," in infotext, path
