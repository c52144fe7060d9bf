"""The inpainting tab's Outpainting controls: extend the picture by pixels on chosen sides, or to a target size."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ldm_core.limits import Limits
from ldm_core.outpaint import ANCHORS, sides_for_target
from ldm_core.requests import InpaintRequest
from ldm_core.validation import MAX_MASK_BLUR

from .controls import Inputs, request_default

SIDES = ("left", "top", "right", "bottom")
MAX_EXTEND = 512  # per side in the sliders; the request allows up to the image-side limit


def outpaint_controls(limits: Limits) -> Inputs:
    """`extend_<side>` sliders, `target_width` / `target_height` numbers and the `anchor` (`#inpaint-extend-<side>`,
    `#inpaint-target-width`, ...), in a closed accordion."""
    with gr.Accordion("Outpainting: extend the picture", open=False, elem_id="inpaint-outpaint"):
        gr.Markdown(
            "<small>The new band is pre-filled from the picture's edge and painted window by window at the model's "
            "size; the picture's own pixels stay as they are. A mask painted on the picture is inpainted too.</small>"
        )
        with gr.Row():
            sliders = {
                f"extend_{side}": gr.Slider(
                    0,
                    min(MAX_EXTEND, limits.max_image_side),
                    value=0,
                    step=8,
                    label=f"Extend {side} (px)",
                    elem_id=f"inpaint-extend-{side}",
                )
                for side in SIDES
            }
        with gr.Row():
            target_width, target_height = (
                gr.Number(
                    value=0,
                    precision=0,
                    minimum=0,
                    label=f"…or to a target {side} (px)",
                    elem_id=f"inpaint-target-{side}",
                )
                for side in ("width", "height")
            )
            anchor = gr.Dropdown(list(ANCHORS), value="centre", label="Picture kept at", elem_id="inpaint-anchor")
        feather = gr.Slider(
            0,
            MAX_MASK_BLUR,
            value=request_default(InpaintRequest, "outpaint_feather"),
            step=1,
            label="Seam feather (px into the new band)",
            elem_id="inpaint-outpaint-feather",
        )
    targets = {"target_width": target_width, "target_height": target_height, "anchor": anchor}
    return {**sliders, **targets, "outpaint_feather": feather}


def outpaint_sides(*values: Any) -> dict[str, int]:
    return {f"extend_{side}": int(value or 0) for side, value in zip(SIDES, values, strict=True)}


def target_sides(size: tuple[int, int], width: Any, height: Any, anchor: str | None) -> dict[str, int] | None:
    """The sides for a target size (a missing side keeps the picture's); None when no target is set."""
    if not width and not height:
        return None
    target = (int(width or size[0]), int(height or size[1]))
    try:
        sides = sides_for_target(size, target, anchor or "centre")
    except ValueError as error:
        raise gr.Error(f"target_width / target_height: {error}; enter a larger size.", print_exception=False) from None
    return dict(zip((f"extend_{side}" for side in SIDES), sides, strict=True))
