"""Image-to-image by SDEdit (Meng et al. 2022; A1111's img2img): noise the picture's latents to `strength`, then
denoise them with the prompt. It runs the text-to-image model, sharing its loaded components: the built-in family's
text UNet (loaded once for both tasks), sd15's base pipeline through `from_pipe`.

Stages: fit the picture to the model's size (its longer side, aspect kept), run the img2img pipeline from
`strength` (1.0: from pure noise, the picture is ignored; 0.0 would skip every step), return the model-size pictures.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from ..limits import Limits
from ..pipelines.stable_diffusion import StableDiffusionImg2ImgPipeline
from ..requests import CascadeOptions, GenerationRequest
from ..validation import CheckedInputs, InvalidRequestError, _number, _pixels, _text, to_rgb
from .common import FamilyParts, RunContext, TaskOutput, fit_size, prompt_inputs


@dataclass(frozen=True, kw_only=True)
class ImageToImageRequest(CascadeOptions, GenerationRequest):
    image: Image.Image
    prompt: str = ""
    negative_prompt: str = ""
    strength: float = 0.6  # how much of the picture is redrawn: 0 keeps it, 1 ignores it


def family_pipeline(parts: FamilyParts) -> StableDiffusionImg2ImgPipeline:
    return StableDiffusionImg2ImgPipeline(**parts.text_pipeline())


def check(request: ImageToImageRequest, limits: Limits) -> CheckedInputs:
    _text("prompt", request.prompt, limits)
    _text("negative_prompt", request.negative_prompt, limits)
    strength = _number("strength", request.strength, 0.0, 1.0)
    if strength * request.num_inference_steps < 1:
        raise InvalidRequestError("strength", strength, "times num_inference_steps must be at least 1 (one step)")
    image = to_rgb("image", request.image, limits.max_image_side)
    _pixels("image", image.size, 1, request.batch_size, limits)
    return CheckedInputs(image=image)


def run(request: ImageToImageRequest, inputs: CheckedInputs, context: RunContext) -> TaskOutput:
    loaded = context.loaded
    assert inputs.image is not None
    size = fit_size(*inputs.image.size, loaded.native_size, loaded.size_multiple)
    image = inputs.image.resize(size, Image.Resampling.LANCZOS)
    prompts, warnings = prompt_inputs(loaded.pipe, request.prompt, request.negative_prompt)
    steps_run = max(1, int(request.num_inference_steps * request.strength))
    with context.monitor(steps_run) as monitor:
        images = loaded.pipe(
            **prompts,
            image=image,
            strength=request.strength,
            **context.sampling(request),
        ).images
        monitor.finish()
    return TaskOutput(images, size, params={"Denoising strength": request.strength}, warnings=warnings)
