"""Outpainting, the inpainting task with `extend_*` set: a bigger canvas whose new band is inpainted.

Stages: extend the canvas and pre-fill the band from the edge (`ldm_core.outpaint`), inpaint it window by window at
the model's size (most context first; a canvas no bigger than the model's size is one window, resized), join the
windows softly, and feather the seam inside the band. The picture's own pixels come back unchanged (a painted mask
over them is inpainted as usual, with `mask_blur`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from ..outpaint import band_ramp, extend_canvas, next_window, window_grid, window_weight
from ..requests import InpaintRequest
from ..validation import CheckedInputs
from .common import RunContext, TaskOutput, fit_size, prompt_inputs

OVERLAP_FRACTION = 4  # windows overlap by a quarter of the model's size


def request_sides(request: InpaintRequest) -> tuple[int, int, int, int]:
    return request.extend_left, request.extend_top, request.extend_right, request.extend_bottom


def run(request: InpaintRequest, inputs: CheckedInputs, context: RunContext) -> TaskOutput:
    loaded = context.loaded
    assert inputs.image is not None
    canvas = extend_canvas(inputs.image, request_sides(request))
    height, width = canvas.band.shape
    todo = canvas.band.copy()
    inside = np.zeros_like(todo, dtype=np.float64)  # a painted mask over the picture, blurred, placed on the canvas
    if inputs.mask is not None:
        left, top, right, bottom = canvas.box
        todo[top:bottom, left:right] |= np.asarray(inputs.mask) > 0
        blurred = inputs.mask.filter(ImageFilter.GaussianBlur(request.mask_blur)) if request.mask_blur else inputs.mask
        inside[top:bottom, left:right] = np.asarray(blurred, dtype=np.float64) / 255.0
    native, multiple = loaded.native_size, loaded.size_multiple
    overlap = native // OVERLAP_FRACTION
    single = max(width, height) <= native
    windows = window_grid((height, width), native, overlap, multiple) if not single else []
    prompts, warnings = prompt_inputs(loaded.pipe, request.prompt, request.negative_prompt)
    steps_run = max(1, int(request.num_inference_steps * request.strength))
    calls = 1 if single else _count_windows(windows, todo)
    seam = np.maximum(band_ramp(canvas, request.outpaint_feather), inside * ~canvas.band)[..., None]
    images = []
    with context.monitor(steps_run * calls * request.batch_size) as monitor:
        for generator in context.generators():

            def paint(pixels: np.ndarray, mask: np.ndarray, generator: torch.Generator = generator) -> np.ndarray:
                return _paint(loaded.pipe, request, prompts, pixels, mask, generator, native, multiple)

            if single:
                painted = paint(canvas.pixels, todo)
            else:
                painted = _paint_windows(canvas.pixels, todo, canvas.band | todo, windows, overlap, paint)
            result = canvas.pixels * (1 - seam) + painted * seam
            images.append(Image.fromarray(result.round().clip(0, 255).astype(np.uint8)))
        monitor.finish()
    params = {
        "Denoising strength": request.strength,
        "Mask blur": request.mask_blur if inputs.mask is not None else None,
        "Outpaint": "left {}, top {}, right {}, bottom {}".format(*request_sides(request)),
        "Outpaint feather": request.outpaint_feather,
    }
    return TaskOutput(images, (width, height), params=params, warnings=warnings)


def _count_windows(windows: list, todo: np.ndarray) -> int:
    unpainted, count = todo.copy(), 0
    while (window := next_window(windows, unpainted)) is not None:
        unpainted[window.slices] = False
        count += 1
    return count


def _paint_windows(pixels: np.ndarray, todo: np.ndarray, band: np.ndarray, windows: list, overlap: int, paint) -> Any:
    canvas = pixels.astype(np.float64)
    unpainted = todo.copy()
    while (window := next_window(windows, unpainted)) is not None:
        crop = canvas[window.slices].round().clip(0, 255).astype(np.uint8)
        generated = paint(crop, unpainted[window.slices])
        weight = window_weight(window, unpainted, band, overlap)[..., None]
        canvas[window.slices] = canvas[window.slices] * (1 - weight) + generated * weight
        unpainted[window.slices] = False
    return canvas


def _paint(
    pipe: Any,
    request: InpaintRequest,
    prompts: dict[str, Any],
    pixels: np.ndarray,
    mask: np.ndarray,
    generator: torch.Generator,
    native: int,
    multiple: int,
) -> np.ndarray:
    """One inpainting call on an (h, w) crop, resized to the model's size (its longer side) and back."""
    height, width = mask.shape
    size = fit_size(width, height, native, multiple)
    image = Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS)
    mask_image = Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.BILINEAR)
    output = pipe(
        **prompts,
        image=image,
        mask_image=mask_image.point(lambda value: 255 if value else 0),
        width=size[0],
        height=size[1],
        strength=request.strength,
        num_inference_steps=request.num_inference_steps,
        guidance_scale=request.guidance_scale,
        num_images_per_prompt=1,
        generator=generator,
    ).images[0]
    return np.asarray(output.resize((width, height), Image.Resampling.LANCZOS), dtype=np.float64)
