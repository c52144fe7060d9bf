"""Every task through Engine.run on the tiny family: shape, determinism by seed, batches, progress, cancel, saving."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_helpers import STEPS, box_mask, noise_image, pixels, two_class_map

from ldm_core import memory
from ldm_core.errors import CancelledError
from ldm_core.infotext import parse_infotext, read_png_infotext
from ldm_core.memory import cpu_has_native_bf16
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest

TASKS = ("text2img", "semantic", "inpaint", "upscale")
# text2img: as asked; semantic: the 64x48 map at its own size (a multiple of 16); upscale: x4 (f=4).
EXPECTED_SIZE = {"text2img": (64, 48), "semantic": (64, 48), "inpaint": (64, 48), "upscale": (96, 64)}


def make_request(task: str, **fields):
    common = {"num_inference_steps": STEPS, "seed": 7} | fields
    if task == "text2img":
        return TextToImageRequest(**({"prompt": "a tree by the sea", "width": 64, "height": 48} | common))
    if task == "semantic":
        return SemanticMapRequest(color_map=two_class_map(64, 48), guidance_scale=2.0, **common)
    if task == "inpaint":
        return InpaintRequest(
            image=noise_image(64, 48), mask=box_mask(64, 48, (8, 8, 40, 32)), prompt="a house", **common
        )
    return UpscaleRequest(image=noise_image(24, 16), **({"strength": 1.0} | common))  # the stock sampler: every step


def saved_files(outputs: Path) -> set[Path]:
    return {path for path in Path(outputs).rglob("*") if path.is_file()}


@pytest.mark.parametrize("task", TASKS)
def test_output_shape_seed_and_infotext(engine, task):
    result = engine.run(make_request(task))
    assert result.task == task
    assert [image.size for image in result.images] == [EXPECTED_SIZE[task]]
    assert result.images[0].mode == "RGB"
    assert result.seed == 7 and result.model == "builtin"
    params = parse_infotext(result.infotexts[0])
    assert params["Seed"] == 7 and params["Task"] == task and params["Steps"] == STEPS


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_image_different_seed_different_image(engine, task):
    first = pixels(engine.run(make_request(task)).images[0])
    again = pixels(engine.run(make_request(task)).images[0])
    other = pixels(engine.run(make_request(task, seed=8)).images[0])
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 0


@pytest.mark.parametrize("task", ["text2img", "semantic", "upscale"])
def test_batch_image_i_uses_seed_plus_i(engine, task):
    batch = engine.run(make_request(task, batch_size=2))
    alone = engine.run(make_request(task, seed=8))
    assert [parse_infotext(text)["Seed"] for text in batch.infotexts] == [7, 8]
    assert len(batch.images) == 2
    assert np.abs(pixels(batch.images[1]) - pixels(alone.images[0])).max() <= 2  # batched kernels round differently
    assert np.abs(pixels(batch.images[0]) - pixels(batch.images[1])).max() > 0


def test_random_seed_is_returned_and_reproduces(engine):
    result = engine.run(make_request("text2img", seed=-1))
    assert 0 <= result.seed < 2**32
    again = engine.run(make_request("text2img", seed=result.seed))
    np.testing.assert_array_equal(pixels(result.images[0]), pixels(again.images[0]))


@pytest.mark.parametrize("task", TASKS)
def test_cancel_stops_within_a_step_and_saves_nothing(engine, task):
    cancel = threading.Event()
    events = []

    def on_progress(event):
        events.append(event)
        cancel.set()  # the user presses Cancel while the first step runs

    before = saved_files(engine.config.outputs_dir)
    with pytest.raises(CancelledError):
        engine.run(make_request(task, num_inference_steps=5), progress=on_progress, cancel=cancel)
    assert len(events) == 1  # the next step's hook raised before the UNet ran again
    assert saved_files(engine.config.outputs_dir) == before
    assert engine.run(make_request(task)).images  # the engine is usable again


def test_cancel_set_before_the_run_raises_at_once(engine):
    cancel = threading.Event()
    cancel.set()
    events = []
    with pytest.raises(CancelledError):
        engine.run(make_request("text2img"), progress=events.append, cancel=cancel)
    assert events == []


@pytest.mark.parametrize("task", TASKS)
def test_progress_counts_steps_and_carries_previews(engine, task):
    events = []
    engine.run(make_request(task, num_inference_steps=3), progress=events.append)
    steps = [event.step for event in events]
    assert steps == sorted(steps) and steps[-1] == events[-1].total_steps
    assert len(events) >= 4  # one per step, then the final 100%
    assert events[0].preview is not None and events[0].preview.mode == "RGB"


SAMPLER_NAMES = {
    "ddim": ("DDIM", "DDIMScheduler"),
    "dpm++2m": ("DPM++ 2M", "DPMSolverMultistepScheduler"),
    "euler_a": ("Euler a", "EulerAncestralDiscreteScheduler"),
}


@pytest.mark.parametrize("scheduler", sorted(SAMPLER_NAMES))
def test_each_sampler_runs_and_the_model_schedule_is_untouched(engine, scheduler):
    result = engine.run(make_request("text2img", scheduler=scheduler, num_inference_steps=3))
    assert result.images[0].size == (64, 48)
    assert parse_infotext(result.infotexts[0])["Sampler"] == {"ddim": "DDIM", "dpm++2m": "DPM++ 2M"}.get(
        scheduler, "Euler a"
    )
    loaded = engine.load("text2img")
    assert loaded.scheduler_config["_class_name"] == "DDIMScheduler"
    assert type(loaded.pipe.scheduler).__name__ == {
        "ddim": "DDIMScheduler",
        "dpm++2m": "DPMSolverMultistepScheduler",
    }.get(scheduler, "EulerAncestralDiscreteScheduler")


def test_samplers_give_different_images(engine):
    ddim = pixels(engine.run(make_request("text2img", num_inference_steps=3, scheduler="ddim")).images[0])
    euler = pixels(engine.run(make_request("text2img", num_inference_steps=3, scheduler="euler_a")).images[0])
    assert np.abs(ddim - euler).max() > 0


def test_results_are_saved_per_task_and_date_with_infotext(engine):
    result = engine.run(make_request("semantic", batch_size=2))
    assert len(result.saved_paths) == 2
    for path, text in zip(result.saved_paths, result.infotexts, strict=True):
        assert path.parent.parent == Path(engine.config.outputs_dir) / "semantic"
        assert len(path.parent.name) == 10 and path.parent.name[4] == "-"  # YYYY-MM-DD
        assert path.suffix == ".png" and read_png_infotext(path) == text
    assert result.saved_paths[0] != result.saved_paths[1]
    assert not list(result.saved_paths[0].parent.glob(".partial-*"))


def test_prompt_words_the_model_cannot_read_are_reported(engine):
    unknown = engine.run(make_request("text2img", prompt="a castle of cheese"))
    assert any("castle, cheese" in warning for warning in unknown.warnings)
    long = engine.run(make_request("text2img", prompt=" ".join(["tree"] * 40)))  # read in two windows of 32
    assert not any("tokens" in warning for warning in long.warnings)
    known = engine.run(make_request("text2img", prompt="a tree and the sea"))
    assert not any("does not know" in warning for warning in known.warnings)


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16 (AVX512-BF16 or AMX)")
@pytest.mark.parametrize("task", TASKS)
def test_cpu_bf16_autocast_runs_every_task_close_to_fp32(make_engine, family_root, engine, task, monkeypatch):
    """dtype auto where bf16 measures faster: fp32 weights, bf16 compute; the images stay close to the fp32 ones."""
    monkeypatch.setattr(memory, "cpu_bf16_is_faster", lambda: True)  # whatever this CPU's speeds are
    auto = make_engine(model_root=family_root, dtype="auto")
    assert auto.describe()["autocast"] == "bfloat16"
    fast, exact = (pixels(e.run(make_request(task)).images[0]) for e in (auto, engine))
    assert fast.shape == exact.shape
    assert np.abs(fast - exact).mean() < 8  # of 255: bf16 rounding, not a different image


@pytest.mark.parametrize("faster", [True, False])
def test_dtype_auto_on_cpu_takes_bf16_autocast_only_where_it_measured_faster(monkeypatch, faster):
    monkeypatch.setattr(memory, "cpu_bf16_is_faster", lambda: faster)
    runtime = memory.resolve_runtime("cpu", "auto", "none", False, False, False)
    assert runtime.dtype == torch.float32
    assert runtime.autocast == (torch.bfloat16 if faster else None)


def test_the_bf16_probe_answers_without_native_bf16(monkeypatch):
    monkeypatch.setattr(memory, "cpu_has_native_bf16", lambda: False)
    assert memory.cpu_bf16_is_faster.__wrapped__() is False
    monkeypatch.setattr(memory, "cpu_has_native_bf16", lambda: True)
    assert isinstance(memory.cpu_bf16_is_faster.__wrapped__(), bool)  # measured: either answer is right somewhere
