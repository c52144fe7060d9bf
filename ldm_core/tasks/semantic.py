"""Semantic map to image: the built-in concat-conditioned model, or ControlNet-seg on SD 1.5 fed the colour map."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..palette import label_map_to_color
from ..pipelines.semantic_map import LDMSemanticMapPipeline
from ..requests import SemanticMapRequest
from ..validation import CheckedInputs
from .common import FamilyParts, RunContext, TaskOutput, fit_size, prompt_warnings


def family_pipeline(parts: FamilyParts) -> LDMSemanticMapPipeline:
    """The map enters by concatenation: no text encoder (Sec. 4.3.2)."""
    return LDMSemanticMapPipeline(vae=parts.vae, unet=parts.unet, scheduler=parts.scheduler)


def run(request: SemanticMapRequest, inputs: CheckedInputs, context: RunContext) -> TaskOutput:
    loaded = context.loaded
    assert inputs.label_map is not None
    height, width = inputs.label_map.shape
    size = fit_size(width, height, loaded.native_size, loaded.size_multiple)
    label_map = np.asarray(Image.fromarray(inputs.label_map.astype(np.uint8)).resize(size, Image.Resampling.NEAREST))
    warnings, params = [], {}
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
            warnings += prompt_warnings(loaded.pipe, request.prompt)
            images = loaded.pipe(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or None,
                image=Image.fromarray(label_map_to_color(label_map)),
                width=size[0],
                height=size[1],
                num_inference_steps=request.num_inference_steps,
                guidance_scale=request.guidance_scale,
                num_images_per_prompt=request.batch_size,
                generator=context.generators(),
            ).images
        monitor.finish()
    return TaskOutput(images, size, params=params, warnings=warnings)
