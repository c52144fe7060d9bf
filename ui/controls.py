"""Controls shared by several tabs: sampling settings (defaults from the request dataclasses, ranges from the core's
`Limits` and validation bounds), result panels, and the by-name match of a handler's parameters to its inputs."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ldm_core.infotext import PNG_KEY
from ldm_core.limits import Limits
from ldm_core.requests import GenerationRequest, GenerationResult
from ldm_core.schedulers import SAMPLERS
from ldm_core.validation import MAX_GUIDANCE, MAX_SEED

Inputs = dict[str, gr.components.Component]  # a handler's inputs by its parameter names (the API's names too)
INJECTED = ("request", "progress")  # handler parameters gradio fills itself (gr.Request, gr.Progress)


def named_inputs(handler: Callable, inputs: Inputs) -> list[gr.components.Component]:
    """`inputs` in the order of `handler`'s parameters, matched by name: a control missing, extra or misnamed fails
    here, when the UI is built, instead of shifting every argument after it."""
    names = [name for name in inspect.signature(handler).parameters if name not in INJECTED]
    missing, extra = [n for n in names if n not in inputs], [n for n in inputs if n not in names]
    if missing or extra:
        raise ValueError(f"{handler.__name__}: no control for {missing}; controls no parameter takes: {extra}")
    return [inputs[name] for name in names]


def request_default(request_type: type, name: str) -> Any:
    """The default a request dataclass declares for one field: the UI never restates it."""
    for field in dataclasses.fields(request_type):
        if field.name == name:
            return field.default
    raise KeyError(f"{request_type.__name__} has no field {name!r}")


@dataclass
class SamplingControls:
    scheduler: gr.Dropdown
    steps: gr.Slider
    guidance: gr.Slider | None  # None: the task samples without guidance
    seed: gr.Number
    batch_size: gr.Slider | None  # None: one image per request

    def inputs(self) -> Inputs:
        """By handler parameter name; a control the task does not have is absent (and its handler has no such
        parameter: `named_inputs` checks)."""
        named = {
            "sampler": self.scheduler,
            "steps": self.steps,
            "guidance": self.guidance,
            "seed": self.seed,
            "batch_size": self.batch_size,
        }
        return {name: control for name, control in named.items() if control is not None}


def count_slider(request_type: type, field: str, maximum: int, label: str, elem_id: str) -> gr.Slider:
    """1..`maximum` in whole steps, starting at the request's default (never past the maximum)."""
    default = min(request_default(request_type, field), maximum)
    return gr.Slider(1, maximum, value=default, step=1, label=label, elem_id=elem_id)


def sampling_controls(
    prefix: str,
    limits: Limits,
    request_type: type = GenerationRequest,
    guidance: bool = True,
    batch: bool = True,
) -> SamplingControls:
    """Sampler, steps, guidance, seed and batch size, with `elem_id`s `<prefix>-<name>`; ranges from `limits`."""
    with gr.Row():
        scheduler = gr.Dropdown(
            list(SAMPLERS),
            value=request_default(request_type, "scheduler"),
            label="Sampler",
            elem_id=f"{prefix}-sampler",
        )
        steps = count_slider(request_type, "num_inference_steps", limits.max_steps, "Steps", f"{prefix}-steps")
        guidance_slider = None
        if guidance:
            guidance_slider = gr.Slider(
                1.0,
                MAX_GUIDANCE,
                value=request_default(request_type, "guidance_scale"),
                step=0.5,
                label="Guidance scale (1 = off)",
                elem_id=f"{prefix}-guidance",
            )
    with gr.Row():
        seed = gr.Number(
            value=request_default(request_type, "seed"),
            precision=0,
            minimum=-1,
            maximum=MAX_SEED,
            label="Seed",
            info="-1: a random seed",
            elem_id=f"{prefix}-seed",
        )
        batch_slider = None
        if batch:
            batch_slider = count_slider(request_type, "batch_size", limits.max_batch, "Batch size", f"{prefix}-batch")
    return SamplingControls(scheduler, steps, guidance_slider, seed, batch_slider)


def strength_slider(prefix: str, request_type: type, info: str, minimum: float = 0.0) -> gr.Slider:
    """The img2img-style "Denoising strength" slider (inpainting, x4), its default from the request type."""
    return gr.Slider(
        minimum,
        1.0,
        value=request_default(request_type, "strength"),
        step=0.05,
        label="Denoising strength",
        info=info,
        elem_id=f"{prefix}-strength",
    )


def sampling_kwargs(
    scheduler: str, steps: float, guidance: float | None, seed: float | None, batch: float | None
) -> dict:
    """Request keywords for the shared sampling fields, from raw UI values."""
    kwargs: dict[str, Any] = {
        "scheduler": scheduler,
        "num_inference_steps": int(steps),
        "seed": -1 if seed is None else int(seed),
    }
    if guidance is not None:
        kwargs["guidance_scale"] = float(guidance)
    if batch is not None:
        kwargs["batch_size"] = int(batch)
    return kwargs


@dataclass
class ResultPanel:
    gallery: gr.Gallery
    seed_used: gr.Number
    infotext: gr.Textbox
    infotexts: gr.State  # one per gallery image
    selected: gr.State  # index of the gallery image the user clicked
    reuse_seed: gr.Button


def result_panel(prefix: str, label: str = "Result") -> ResultPanel:
    """Gallery (PNG, infotext embedded), seed used and the selected image's infotext."""
    gallery = gr.Gallery(
        label=label,
        format="png",
        columns=2,
        height=420,
        object_fit="contain",
        elem_id=f"{prefix}-gallery",
        elem_classes=["studio-result"],
        interactive=False,
    )
    with gr.Row():
        seed_used = gr.Number(label="Seed used", precision=0, interactive=False, elem_id=f"{prefix}-seed-used", scale=1)
        reuse = gr.Button("Reuse seed", size="sm", elem_id=f"{prefix}-reuse-seed", scale=0)
    infotext = gr.Textbox(label="Parameters", lines=3, interactive=False, elem_id=f"{prefix}-infotext")
    infotexts = gr.State([])
    selected = gr.State(0)

    def show_selected(texts: list[str], event: gr.SelectData) -> tuple[int, str]:
        index = event.index if isinstance(event.index, int) else 0
        return index, texts[index] if index < len(texts) else ""

    gallery.select(show_selected, [infotexts], [selected, infotext], api_visibility="private")
    return ResultPanel(gallery, seed_used, infotext, infotexts, selected, reuse)


def gallery_outputs(panel: ResultPanel) -> list:
    return [panel.gallery, panel.seed_used, panel.infotext, panel.infotexts, panel.selected]


def gallery_stream(runner: Any, generation: Any, session: str, progress: Any) -> Iterator[tuple]:
    """Handler outputs for `gallery_outputs` as the run goes: the latent preview alone, then the finished images."""
    for item in runner.stream(generation, session, progress):
        if isinstance(item, GenerationResult):
            yield gallery_values(item)
        else:
            yield [item], gr.skip(), gr.skip(), gr.skip(), gr.skip()


def gallery_values(result: Any) -> tuple:
    """Handler return values for `gallery_outputs`: images carry their infotext as a PNG text chunk."""
    images = []
    for image, text in zip(result.images, result.infotexts, strict=False):
        image = image.copy()
        image.info[PNG_KEY] = text
        images.append(image)
    first = result.infotexts[0] if result.infotexts else ""
    return images, result.seed, first, list(result.infotexts), 0
