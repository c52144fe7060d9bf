"""Semantic map to image: the built-in concat-conditioned model, or ControlNet-seg on SD 1.5 fed the colour map.

Output size "map": the map's own size, by convolutional sampling (Rombach et al. 2022, Sec. 4.3.2: the UNet is
convolutional, so a model trained at 256 px samples larger maps directly), capped at `Limits.max_semantic_side` or
the model's size if larger. "model": the map fitted to the size the model was trained at.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..limits import Limits
from ..palette import label_map_to_color
from ..pipelines.semantic_map import LDMSemanticMapPipeline
from ..requests import SemanticMapRequest
from ..validation import CheckedInputs
from .common import FamilyParts, RunContext, TaskOutput, cap_size, fit_size, prompt_inputs, size_warning


def family_pipeline(parts: FamilyParts) -> LDMSemanticMapPipeline:
    """The map enters by concatenation: no text encoder (Sec. 4.3.2)."""
    return LDMSemanticMapPipeline(vae=parts.vae, unet=parts.unet, scheduler=parts.scheduler)


def working_size(
    request: SemanticMapRequest, map_size: tuple[int, int], native: int, multiple: int, limits: Limits
) -> tuple[int, int]:
    """The size the model samples at: the map's own (capped at `max_semantic_side`), or fitted to the model's."""
    if request.output_size == "map":
        return cap_size(*map_size, max(limits.max_semantic_side, native), multiple)
    return fit_size(*map_size, native, multiple)


def run(request: SemanticMapRequest, inputs: CheckedInputs, context: RunContext) -> TaskOutput:
    loaded = context.loaded
    assert inputs.label_map is not None
    height, width = inputs.label_map.shape
    size = working_size(request, (width, height), loaded.native_size, loaded.size_multiple, context.limits)
    label_map = np.asarray(Image.fromarray(inputs.label_map.astype(np.uint8)).resize(size, Image.Resampling.NEAREST))
    warnings, params = size_warning(size, loaded.native_size), {"Output size": request.output_size}
    if request.output_size == "map" and max(width, height) > max(size) + loaded.size_multiple:
        warnings.append(
            f"the {width}x{height} map ran at {size[0]}x{size[1]}, the largest semantic size here "
            "(--max-semantic-side); upscale x4 after generating for a larger picture"
        )
    with context.monitor(request.num_inference_steps) as monitor:
        if loaded.kind == "family":
            if request.prompt or request.negative_prompt:
                warnings.append("the built-in semantic model is conditioned on the map alone; the prompt was ignored")
            label_maps = torch.from_numpy(label_map.astype(np.int64))[None].repeat(request.batch_size, 1, 1)
            if loaded.guidance_rescale:
                params["CFG rescale"] = loaded.guidance_rescale
            images = loaded.pipe(
                label_map=label_maps,
                num_inference_steps=request.num_inference_steps,
                guidance_scale=request.guidance_scale,
                guidance_rescale=loaded.guidance_rescale,
                generator=context.generators(),
            ).images
        else:
            prompts, prompt_notes = prompt_inputs(loaded.pipe, request.prompt, request.negative_prompt)
            warnings += prompt_notes
            images = loaded.pipe(
                **prompts,
                image=Image.fromarray(label_map_to_color(label_map)),
                width=size[0],
                height=size[1],
                **context.sampling(request),
            ).images
        monitor.finish()
    return TaskOutput(images, size, params=params, warnings=warnings)
