"""The x4 cascade after a generating task (Rombach et al. 2022, Sec. 4.4; A1111's "Hires. fix" in spirit): each image
goes through the preset's x4 super-resolution model in the same request, with the image's own seed.

Infotext keeps A1111's keys: `Size` is the first pass, `Hires upscale: 4`, `Hires upscaler: <model>`, `Hires steps`
and (where the first pass has none of its own) `Denoising strength` of the x4 pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..budget import Work
from ..requests import CascadeOptions, GenerationRequest, UpscaleRequest
from ..validation import check_request
from . import upscale
from .common import RunContext, TaskOutput

if TYPE_CHECKING:  # the assembler imports the registry, which imports the recipes
    from ..assembly import LoadedTask

FACTOR = 4


def work(request: CascadeOptions, first: Work) -> Work:
    """The x4 pass's work after a first pass of `first`: each of its images, 16x the pixels, `upscale_steps`."""
    strength = UpscaleRequest.__dataclass_fields__["strength"].default
    steps = request.upscale_steps * max(float(strength), 1.0 / max(request.upscale_steps, 1))
    return Work("upscale", first.megapixels * FACTOR * FACTOR, steps, first.batch, first.size, "x4 input")


def run(
    request: GenerationRequest,
    output: TaskOutput,
    context: RunContext,
    load: Callable[[str], LoadedTask],
    generate: Callable[..., TaskOutput],
) -> TaskOutput:
    """`output` with every image upscaled x4; `load` and `generate` are the engine's (loading, sampler, memory)."""
    assert isinstance(request, CascadeOptions)
    loaded = load("upscale")
    images, warnings = [], list(output.warnings)
    for image, seed in zip(output.images, context.seeds, strict=True):
        x4_request = UpscaleRequest(
            image=image, num_inference_steps=request.upscale_steps, seed=seed, scheduler=request.scheduler
        )
        x4_context = RunContext(loaded, [seed], context.progress, context.cancel, context.limits)
        x4_output = generate(loaded, upscale.run, x4_request, check_request(x4_request, context.limits), x4_context)
        images.append(x4_output.images[0])
        warnings += [warning for warning in x4_output.warnings if warning not in warnings]
    params: dict[str, Any] = {
        "Hires upscale": FACTOR,
        "Hires upscaler": loaded.model_name,
        "Hires steps": request.upscale_steps,
    }
    if "Denoising strength" not in output.params:
        params["Denoising strength"] = UpscaleRequest.__dataclass_fields__["strength"].default
    return replace(output, images=images, params={**output.params, **params}, warnings=warnings)
