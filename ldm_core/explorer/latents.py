"""Stages the explorer sections share: the task's autoencoder, encode / decode, the noise schedule, pictures of
tensors and labelled strips."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers import DDIMScheduler
from PIL import Image, ImageDraw

from ..assembly import LoadedTask
from ..pipelines.super_resolution import OffloadableSuperResolutionPipeline


@dataclass
class Autoencoder:
    """A task's first stage (Sec. 3.1): `encode` gives the latents the UNet sees (scaled), `decode` takes them back."""

    module: torch.nn.Module  # AutoencoderKL or VQModel
    scaling_factor: float  # diffusion latents = encoder latents * scaling_factor
    device: torch.device
    factor: int  # f: pixels per latent cell along each side

    @classmethod
    def of(cls, loaded: LoadedTask) -> Autoencoder:
        pipe = loaded.pipe
        module = getattr(pipe, "vae", None) or pipe.vqvae
        # the x4 pipelines decode their latents unscaled (as diffusers' LDMSuperResolutionPipeline does)
        scale = 1.0 if isinstance(pipe, OffloadableSuperResolutionPipeline) else module.config.scaling_factor
        return cls(module, float(scale or 1.0), pipe._execution_device, loaded.vae_factor)

    @property
    def dtype(self) -> torch.dtype:
        return self.module.dtype

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> diffusion latents (the posterior mean, as the evaluation does)."""
        encoded = self.module.encode(pixels.to(self.device, self.dtype))
        latents = encoded.latent_dist.mean if hasattr(encoded, "latent_dist") else encoded.latents
        return latents.float() * self.scaling_factor

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Diffusion latents -> (B, 3, H, W) pixels in [-1, 1] (clamped)."""
        latents = latents.to(self.device, self.dtype) / self.scaling_factor
        return self.module.decode(latents).sample.float().clamp(-1, 1)


def alphas_cumprod(loaded: LoadedTask) -> torch.Tensor:
    """ᾱ_t of the model's own training schedule (the same betas every sampler is built from)."""
    return DDIMScheduler.from_config(loaded.scheduler_config).alphas_cumprod.float()


def noise_level(alpha_bar: float) -> float:
    """σ_t = sqrt((1 - ᾱ_t) / ᾱ_t): the noise's standard deviation relative to the signal (Karras et al. 2022)."""
    return float(np.sqrt((1 - alpha_bar) / max(alpha_bar, 1e-12)))


def image_to_pixels(image: Image.Image) -> torch.Tensor:
    """RGB PIL -> (1, 3, H, W) float in [-1, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(array).permute(2, 0, 1)[None] / 127.5 - 1


def pixels_to_image(pixels: torch.Tensor) -> Image.Image:
    """(3, H, W) in [-1, 1] -> RGB PIL, rounded as diffusers' image processor does (so images compare exactly)."""
    array = ((pixels.detach().float().cpu() / 2 + 0.5).clamp(0, 1)).permute(1, 2, 0).numpy()
    return Image.fromarray((array * 255).round().astype(np.uint8))


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of two 8-bit RGB images, in dB (as the evaluation report computes it)."""
    diff = (np.asarray(a.convert("RGB"), np.float64) - np.asarray(b.convert("RGB"), np.float64)) ** 2
    return float(10 * np.log10(255.0**2 / max(diff.mean(), 1e-10)))


def channel_picture(channel: torch.Tensor, scale: int) -> Image.Image:
    """One latent channel (h, w) as greyscale, its own min..max stretched to black..white, upsampled by `scale`."""
    values = channel.detach().float().cpu()
    low, high = values.min(), values.max()
    grey = ((values - low) / (high - low).clamp_min(1e-6) * 255).round().byte().numpy()
    picture = Image.fromarray(grey, mode="L").convert("RGB")
    return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)


def labelled(image: Image.Image, text: str, band: int = 14) -> Image.Image:
    """The image with a caption band on top (Pillow's built-in font)."""
    lines = text.count("\n") + 1
    canvas = Image.new("RGB", (image.width, image.height + band * lines), (255, 255, 255))
    canvas.paste(image.convert("RGB"), (0, band * lines))
    ImageDraw.Draw(canvas).multiline_text((2, 1), text, fill=(0, 0, 0), spacing=2)
    return canvas


def side_by_side(images: list[Image.Image], gap: int = 4) -> Image.Image:
    """Images in one row on a white background, top-aligned."""
    width = sum(image.width for image in images) + gap * (len(images) - 1)
    canvas = Image.new("RGB", (width, max(image.height for image in images)), (255, 255, 255))
    x = 0
    for image in images:
        canvas.paste(image.convert("RGB"), (x, 0))
        x += image.width + gap
    return canvas


def display_scale(size: tuple[int, int], target: int = 256) -> int:
    """An integer upscale that brings a small picture's longer side near `target` pixels."""
    return max(1, target // max(size))
