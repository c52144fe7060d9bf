"""The task registry is the one list of tasks: every place that names tasks agrees with it; the UI takes its inputs
by name and its slider ranges from the engine's limits."""

from __future__ import annotations

import importlib
import json

import gradio as gr
import pytest

from ldm_core.errors import InvalidRequestError
from ldm_core.family import UNET_FOLDERS
from ldm_core.limits import Limits
from ldm_core.presets import PRESETS
from ldm_core.registry import TASKS, task_for
from ldm_core.requests import GenerationRequest, TextToImageRequest
from ldm_core.validation import check_request


def test_every_entry_is_complete_and_found_by_its_request_type():
    for name, spec in TASKS.items():
        assert spec.name == name and spec.label and spec.tab_label
        assert issubclass(spec.request, GenerationRequest)
        assert callable(spec.check) and callable(spec.run)
        assert callable(importlib.import_module(spec.tab).build)
        assert (spec.family_unet is None) == (spec.family_pipeline is None)
    assert task_for(TextToImageRequest(prompt="a")) is TASKS["text2img"]
    assert set(UNET_FOLDERS) == {name for name, spec in TASKS.items() if spec.family_unet}
    assert set(PRESETS["builtin"]) == set(UNET_FOLDERS)
    assert all(set(tasks) <= set(TASKS) for tasks in PRESETS.values())


def test_a_request_of_no_registered_task_is_refused_by_name():
    class Unknown(GenerationRequest):
        pass

    with pytest.raises(InvalidRequestError, match="request: .*must be a task request"):
        check_request(Unknown())
    with pytest.raises(InvalidRequestError, match="request"):
        check_request("text2img")  # type: ignore[arg-type]


def test_named_inputs_match_by_name_and_refuse_a_missing_or_extra_control():
    from ui.controls import named_inputs

    def handler(prompt: str, steps: float, request: gr.Request, progress: gr.Progress = gr.Progress()):  # noqa: B008
        return prompt, steps

    with gr.Blocks():
        prompt, steps, seed = gr.Textbox(), gr.Slider(), gr.Number()
    assert named_inputs(handler, {"steps": steps, "prompt": prompt}) == [prompt, steps]
    with pytest.raises(ValueError, match=r"no control for \['steps'\]"):
        named_inputs(handler, {"prompt": prompt})
    with pytest.raises(ValueError, match=r"no parameter takes: \['seed'\]"):
        named_inputs(handler, {"prompt": prompt, "steps": steps, "seed": seed})


class _StandIn:
    def __init__(self, limits: Limits):
        self.config = type("Config", (), {"limits": limits})()


def _slider(demo: gr.Blocks, elem_id: str) -> gr.Slider:
    return next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == elem_id)


def test_slider_ranges_follow_the_limits_and_every_task_has_a_tab():
    from ui import build_demo

    demo = build_demo(_StandIn(Limits(max_steps=50, max_batch=3, max_size=2048)))
    assert _slider(demo, "txt2img-steps").maximum == 50
    assert _slider(demo, "inpaint-steps").maximum == 50
    assert _slider(demo, "txt2img-batch").maximum == 3
    assert _slider(demo, "txt2img-width").maximum == 2048 and _slider(demo, "txt2img-height").maximum == 2048
    small = build_demo(_StandIn(Limits(max_steps=10)))
    assert _slider(small, "txt2img-steps").value <= 10  # the default never sits past the limit
    for name in TASKS:
        assert any(getattr(block, "elem_id", None) == f"tab-{name}" for block in demo.blocks.values())


def test_the_size_sliders_name_the_models_native_size(make_engine, family_root):
    from ui import build_demo

    engine = make_engine(model_root=family_root)
    native = engine.native_size("text2img")
    assert native == json.loads((family_root / "family.json").read_text())["image_size"]
    assert engine.native_size("upscale") is None  # the x4 output size is its input's
    demo = build_demo(engine)
    assert f"({native} px)" in _slider(demo, "txt2img-width").info
