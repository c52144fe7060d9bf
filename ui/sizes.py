"""Controls for the size of a picture: the x4 cascade ("Upscale x4 after generating"), text-to-image's size choice
(model's size, twice it, custom) and the semantic map's output size. Each returns its inputs by handler name."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from ldm_core.limits import Limits
from ldm_core.requests import SemanticMapRequest, TextToImageRequest
from ldm_core.validation import MIN_SIZE

from .controls import Inputs, request_default

logger = logging.getLogger(__name__)

# The tabs' default for the cascade. A request leaves it off (API callers ask for it), but a newcomer's first picture
# should be the best the studio makes in a few seconds: the built-in family's x4 pass turns its 128 px pictures into
# sharper 512 px ones in about 2-3 s on 2 CPU cores, and the pictures side by side favour it (see README). The semantic
# tab runs at the map's own size by default (256 px from the canvas), which x4 would make a 1024 px picture in about
# half a minute on the same CPU: off there, the box says so.
CASCADE_IN_TABS = True
SEMANTIC_CASCADE_INFO = "The ×4 model on the picture, in the same run: ×4 of the map's size (1024 px from 256)"
SIZE_CHOICES = ("Model's size", "2× the model's size", "Custom")
SEMANTIC_CHOICES = {"Map's own size": "map", "Model's size": "model"}
CASCADE_INFO = "The preset's ×4 model on each picture, in the same run (A1111's Hires. fix)"


def cascade_controls(
    prefix: str,
    limits: Limits,
    request_type: type = TextToImageRequest,
    default: bool = CASCADE_IN_TABS,
    info: str = CASCADE_INFO,
) -> Inputs:
    """`upscale_x4` checkbox and `upscale_steps` slider (`#<prefix>-upscale-x4`, `#<prefix>-upscale-steps`);
    `cascade_updates` locks them when the engine's model has no ×4 model and restores `default` and `info`."""
    with gr.Row():
        upscale = gr.Checkbox(
            value=default,
            label="Upscale ×4 after generating",
            info=info,
            elem_id=f"{prefix}-upscale-x4",
        )
        steps = gr.Slider(
            1,
            limits.max_steps,
            value=min(request_default(request_type, "upscale_steps"), limits.max_steps),
            step=1,
            label="×4 steps",
            elem_id=f"{prefix}-upscale-steps",
        )
    return {"upscale_x4": upscale, "upscale_steps": steps}


def x4_unavailable(engine: Any) -> str | None:
    """Why the engine's model cannot run the ×4 pass now (None when it can)."""
    try:
        return engine.task_status().get("upscale", "this model has no ×4 model")
    except Exception:  # the status line says the status is unreadable; a run would name the failure
        logger.exception("Could not read the engine's task status")
        return None


def cascade_updates(engine: Any, checkboxes: list[gr.Checkbox], reset: bool) -> list[Any]:
    """Updates for the cascade pairs (checkbox, steps) of these checkboxes: locked and off, with the reason, when the
    engine cannot run the ×4 pass; else open, and back to each tab's default when `reset` (another model was chosen)."""
    reason = x4_unavailable(engine)
    if reason is not None:
        short = reason.split(";")[0]  # what is missing; the status line's details say how to get it
        locked = gr.update(value=False, interactive=False, info=f"Unavailable with this model: {short}")
        return [locked, gr.update(interactive=False)] * len(checkboxes)
    updates = []
    for checkbox in checkboxes:
        value = {"value": checkbox.value} if reset else {}
        updates += [gr.update(interactive=True, info=checkbox.info, **value), gr.update(interactive=True)]
    return updates


def cascade_kwargs(upscale_x4: Any, upscale_steps: Any) -> dict[str, Any]:
    return {"upscale_x4": bool(upscale_x4), "upscale_steps": int(upscale_steps)}


def text_size_controls(limits: Limits, native: int | None = None) -> Inputs:
    """`size` (radio) and `width` / `height` (numbers, shown for Custom): no magic 0."""
    size = gr.Radio(
        list(SIZE_CHOICES),
        value=SIZE_CHOICES[0],
        label="Size",
        info=size_info(native),
        elem_id="txt2img-size",
    )
    with gr.Row(visible=False) as custom:
        width, height = (
            gr.Number(
                value=0,  # unset (an API caller may leave it out); shown only for Custom
                precision=0,
                minimum=0,
                maximum=limits.max_size,
                label=f"{side.title()} (px, a multiple of 8, {MIN_SIZE} to {limits.max_size})",
                info=side_info(native),
                elem_id=f"txt2img-{side}",
            )
            for side in ("width", "height")
        )

    def show_custom(choice: str):
        is_custom = choice == SIZE_CHOICES[2]
        cleared = gr.update() if is_custom else 0  # leaving Custom clears the numbers: they would win
        return gr.Row(visible=is_custom), cleared, cleared

    size.change(show_custom, [size], [custom, width, height], api_visibility="private", queue=False)
    width.change(
        lambda value: gr.Radio(value=SIZE_CHOICES[2]) if value else gr.update(),
        [width],
        [size],
        api_visibility="private",
        queue=False,
    )
    return {"size": size, "width": width, "height": height}


def size_info(native: int | None) -> str:
    trained = f" ({native}×{native} px)" if native else ""
    return f"The model's size is what it was trained at{trained}; twice it samples larger (convolutional sampling)"


def side_info(native: int | None) -> str:
    return f"0: the model's size{f' ({native} px)' if native else ''}; best within half to twice it"


def size_updates(native: int | None) -> list[Any]:
    """The size choice's and the width/height notes for the model the engine holds now (another was chosen)."""
    return [gr.update(info=size_info(native)), gr.update(info=side_info(native)), gr.update(info=side_info(native))]


def text_size_kwargs(size: str | None, width: Any, height: Any) -> dict[str, Any]:
    """Request fields: width/height when given (any choice: an API caller may send only them), else the scale."""
    width, height = int(width or 0) or None, int(height or 0) or None
    if size == SIZE_CHOICES[2] and width is None and height is None:
        raise gr.Error("width: for a custom size enter a width and a height (multiples of 8).", print_exception=False)
    if width is not None or height is not None:
        return {"width": width, "height": height}
    return {"size_scale": 2 if size == SIZE_CHOICES[1] else 1}


def semantic_size_control(limits: Limits) -> Inputs:
    return {
        "output_size": gr.Radio(
            list(SEMANTIC_CHOICES),
            value=next(
                k for k, v in SEMANTIC_CHOICES.items() if v == request_default(SemanticMapRequest, "output_size")
            ),
            label="Output size",
            info=f"The map's own size (convolutional sampling, up to {limits.max_semantic_side} px on a side), "
            "or the size the model was trained at",
            elem_id="semantic-output-size",
        )
    }


def semantic_size_value(choice: str | None) -> str:
    """The radio's label -> the request's value (an API caller may send the value itself)."""
    return SEMANTIC_CHOICES.get(choice or "", choice or "map")
