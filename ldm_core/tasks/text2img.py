"""Text-to-image: Stable-Diffusion-style pipelines (built-in, sd15) and the LDM paper's LDMTextToImagePipeline."""

from __future__ import annotations

from ..pipelines.stable_diffusion import StableDiffusionPipeline
from ..requests import TextToImageRequest
from ..validation import CheckedInputs
from .common import FamilyParts, RunContext, TaskOutput, prompt_warnings


def family_pipeline(parts: FamilyParts) -> StableDiffusionPipeline:
    return StableDiffusionPipeline(**parts.text_pipeline())


def run(request: TextToImageRequest, inputs: CheckedInputs, context: RunContext) -> TaskOutput:
    loaded = context.loaded
    width = request.width or loaded.native_size
    height = request.height or loaded.native_size
    options = {
        "height": height,
        "width": width,
        "num_inference_steps": request.num_inference_steps,
        "guidance_scale": request.guidance_scale,
        "generator": context.generators(),
    }
    params = {}
    if loaded.guidance_rescale and loaded.kind != "ldm_text":  # the model asks for rescaled guidance (Lin et al.)
        options["guidance_rescale"] = params["CFG rescale"] = loaded.guidance_rescale
    warnings = prompt_warnings(loaded.pipe, request.prompt) + prompt_warnings(
        loaded.pipe, request.negative_prompt, "negative prompt"
    )
    with context.monitor(request.num_inference_steps) as monitor:
        if loaded.kind == "ldm_text":
            if request.negative_prompt:
                warnings.append("the LDM text-to-image model has no negative prompt; it was ignored")
            images = loaded.pipe(prompt=[request.prompt] * request.batch_size, **options).images
        else:
            images = loaded.pipe(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or None,
                num_images_per_prompt=request.batch_size,
                **options,
            ).images
        monitor.finish()
    return TaskOutput(images, (width, height), params=params, warnings=warnings)
