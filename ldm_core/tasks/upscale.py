"""x4 super-resolution with LDMSuperResolutionPipeline (Rombach et al. 2022, Sec. 4.4), tiled for any input size."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from PIL import Image

from ..pipelines.super_resolution import OffloadableSuperResolutionPipeline, back_project, steps_to_run
from ..requests import UpscaleRequest
from ..tiling import count_tiles, upscale_tiled
from ..validation import CheckedInputs
from .common import FamilyParts, RunContext, TaskOutput

# Default tile edge (low-res px): one UNet call covers a 128x128 input. The UNets are convolutional, and the VAE is
# tiled at its own native size during the call, so memory stays bounded; 25 native 32 px tiles took 30% longer.
DEFAULT_TILE = 128


def family_pipeline(parts: FamilyParts) -> OffloadableSuperResolutionPipeline:
    """The low-resolution image enters by concatenation: no text encoder (Sec. 4.4)."""
    return OffloadableSuperResolutionPipeline(vqvae=parts.vae, unet=parts.unet, scheduler=parts.scheduler)


@contextlib.contextmanager
def vae_tiled(vae: object):
    """Tile the VAE at its native size for this call only (the VAE is shared; other tasks keep their setting)."""
    if not hasattr(vae, "enable_tiling") or getattr(vae, "use_tiling", False):
        yield
        return
    try:
        vae.enable_tiling()
    except NotImplementedError:  # VQModel (the LDM x4 model's own autoencoder) has no tiled decode: decode whole
        yield
        return
    try:
        yield
    finally:
        vae.disable_tiling()


def run(request: UpscaleRequest, inputs: CheckedInputs, context: RunContext) -> TaskOutput:
    loaded = context.loaded
    image = inputs.image
    assert image is not None
    # automatic: up to DEFAULT_TILE, but no bigger than the image (a small input is padded to a whole tile)
    longest = -(-max(image.size) // loaded.size_multiple) * loaded.size_multiple
    tile = request.tile_size or max(loaded.native_size, min(DEFAULT_TILE, longest))
    overlap = min(request.tile_overlap, tile // 4)  # wider overlaps only cost time
    scale = loaded.vae_factor
    tiles = count_tiles(max(image.width, tile), max(image.height, tile), tile, overlap)
    images = []
    steps_run = steps_to_run(request.num_inference_steps, request.strength)
    with context.monitor(steps_run * tiles * request.batch_size) as monitor:
        for generator in context.generators():

            def upscale_tile(low_res: torch.Tensor, generator: torch.Generator = generator) -> np.ndarray:
                output = loaded.pipe(
                    image=low_res,
                    num_inference_steps=request.num_inference_steps,
                    strength=request.strength,
                    generator=generator,
                    output_type="np",
                )
                return output.images[0]

            with vae_tiled(loaded.pipe.vqvae):
                pixels = upscale_tiled(image, tile, overlap, scale, upscale_tile)
            if request.back_project:
                pixels = back_project(pixels, np.asarray(image, dtype=np.float32) / 255.0)  # RGB (validated)
            images.append(Image.fromarray((pixels * 255).round().clip(0, 255).astype(np.uint8)))
        monitor.finish()
    params = {
        "Upscale": f"x{scale}",
        "Denoising strength": request.strength,
        "Tile size": tile,
        "Tile overlap": overlap if tiles > 1 else None,
        "Back-projection": "on" if request.back_project else None,
    }
    return TaskOutput(images, (image.width * scale, image.height * scale), params=params, uses_guidance=False)
