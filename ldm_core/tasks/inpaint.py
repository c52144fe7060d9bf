"""Inpainting (Rombach et al. 2022, Sec. 4.5): repaint the masked area; every pixel outside the mask stays as it was.

Stages: find the working region (the whole image, or with `only_masked` a padded box around the mask), resize it to
the model's size, run the pipeline, resize back, and composite over the original through the blurred mask.
"""

from __future__ import annotations

from diffusers import DiffusionPipeline
from PIL import Image, ImageFilter

from ..pipelines.inpaint_layout import SD_INPAINT_CHANNELS, InpaintLayoutUNet, LatentInpaintPipeline
from ..pipelines.stable_diffusion import StableDiffusionInpaintPipeline
from ..requests import InpaintRequest
from ..validation import CheckedInputs
from . import outpaint
from .common import FamilyParts, RunContext, TaskOutput, fit_size, prompt_inputs


def family_pipeline(parts: FamilyParts) -> DiffusionPipeline:
    """SD-inpainting's 9-channel UNet as is; a UNet with another input layout through the layout adapter."""
    if parts.unet.config.in_channels == SD_INPAINT_CHANNELS:
        return StableDiffusionInpaintPipeline(**parts.text_pipeline())
    return LatentInpaintPipeline(**(parts.text_pipeline() | {"unet": InpaintLayoutUNet(parts.unet)}))


def mask_region(mask: Image.Image, padding: int) -> tuple[int, int, int, int]:
    """Bounding box of the mask, grown by `padding` on every side and clipped to the image."""
    left, top, right, bottom = mask.getbbox() or (0, 0, *mask.size)
    width, height = mask.size
    return max(0, left - padding), max(0, top - padding), min(width, right + padding), min(height, bottom + padding)


def blur_mask(mask: Image.Image, radius: int) -> Image.Image:
    return mask.filter(ImageFilter.GaussianBlur(radius)) if radius > 0 else mask


def composite(original: Image.Image, generated: Image.Image, soft_mask: Image.Image) -> Image.Image:
    """generated where the mask is 255, original where it is 0 (exactly), a linear mix between."""
    return Image.composite(generated, original, soft_mask)


def run(request: InpaintRequest, inputs: CheckedInputs, context: RunContext) -> TaskOutput:
    if request.extends:
        return outpaint.run(request, inputs, context)
    loaded = context.loaded
    image, mask = inputs.image, inputs.mask
    assert image is not None and mask is not None
    box = mask_region(mask, request.only_masked_padding) if request.only_masked else (0, 0, *image.size)
    crop_size = (box[2] - box[0], box[3] - box[1])
    size = fit_size(*crop_size, loaded.native_size, loaded.size_multiple)
    model_image = image.crop(box).resize(size, Image.Resampling.LANCZOS)
    model_mask = mask.crop(box).resize(size, Image.Resampling.BILINEAR).point(lambda value: 255 if value else 0)
    steps_run = max(1, int(request.num_inference_steps * request.strength))
    prompts, warnings = prompt_inputs(loaded.pipe, request.prompt, request.negative_prompt)
    with context.monitor(steps_run) as monitor:
        generated = loaded.pipe(
            **prompts,
            image=model_image,
            mask_image=model_mask,
            width=size[0],
            height=size[1],
            strength=request.strength,
            **context.sampling(request),
        ).images
        monitor.finish()
    soft_mask = blur_mask(mask, request.mask_blur)
    images = []
    for result in generated:
        pasted = image.copy()
        pasted.paste(result.resize(crop_size, Image.Resampling.LANCZOS), box[:2])
        images.append(composite(image, pasted, soft_mask))
    params = {
        "Denoising strength": request.strength,
        "Mask blur": request.mask_blur,
        "Mask mode": "Inpaint not masked" if request.invert_mask else None,
        "Inpaint area": "Only masked" if request.only_masked else None,
        "Masked area padding": request.only_masked_padding if request.only_masked else None,
    }
    return TaskOutput(images, size, params=params, warnings=warnings)
