"""The first stage (LDM Sec. 3.1): an image, its latent channel by channel, the reconstruction, the compression, and
what survives a latent edit (a channel zeroed, scaled or swapped; noise at a timestep as the forward process adds it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from PIL import Image

from ..errors import InvalidRequestError
from ..validation import to_rgb
from .latents import (
    Autoencoder,
    alphas_cumprod,
    channel_picture,
    display_scale,
    image_to_pixels,
    noise_level,
    pixels_to_image,
    psnr,
)

EditKind = Literal["none", "zero", "scale", "swap", "noise"]
EDITS: tuple[str, ...] = ("none", "zero", "scale", "swap", "noise")
MAX_SCALE = 10.0


@dataclass(frozen=True, kw_only=True)
class LatentEdit:
    """One edit of the encoded latent: zero or scale `channel`, swap it with `other`, or noise it all to `timestep`."""

    kind: EditKind = "none"
    channel: int = 0
    other: int = 1
    factor: float = 2.0  # for "scale"
    timestep: int = 500  # for "noise": x_t = sqrt(ᾱ_t) z + sqrt(1 - ᾱ_t) ε  (DDPM forward process)
    seed: int = 0  # for "noise"


@dataclass(frozen=True, kw_only=True)
class AutoencoderRequest:
    image: Image.Image
    edit: LatentEdit = field(default_factory=LatentEdit)
    task: str = "text2img"  # whose autoencoder (the built-in family shares one; sd15 text2img has SD's VAE)


@dataclass(frozen=True)
class ChannelView:
    picture: Image.Image
    index: int
    low: float
    high: float
    mean: float
    std: float

    @property
    def caption(self) -> str:
        return f"channel {self.index}: {self.low:+.2f} … {self.high:+.2f} (mean {self.mean:+.2f}, std {self.std:.2f})"


@dataclass(frozen=True)
class AutoencoderResult:
    image: Image.Image  # the input as encoded (RGB, cropped to a multiple of f)
    channels: list[ChannelView]
    reconstruction: Image.Image
    psnr: float  # reconstruction vs input, dB
    edited: Image.Image | None  # the edited latent decoded (None without an edit)
    edited_psnr: float | None
    compression: dict[str, Any]
    edit_note: str = ""
    warnings: list[str] = field(default_factory=list)

    def compression_text(self) -> str:
        c = self.compression
        return (
            f"{c['width']}×{c['height']}×3 pixels = {c['pixel_values']:,} values ({c['pixel_bits']:,} bits at 8 bits) "
            f"→ {c['latent_width']}×{c['latent_height']}×{c['latent_channels']} latent = {c['latent_values']:,} values "
            f"({c['latent_bits']:,} bits as {c['latent_dtype']}); f = {c['factor']}, "
            f"{c['value_ratio']:g}× fewer values, {c['bit_ratio']:g}× fewer bits"
        )


def compression(width: int, height: int, latents: torch.Tensor, dtype: torch.dtype) -> dict[str, Any]:
    """H×W×3 → h×w×c, the factor f, and the size in values and in bits of each side."""
    _, channels, latent_height, latent_width = latents.shape
    bits = torch.finfo(dtype).bits if dtype.is_floating_point else torch.iinfo(dtype).bits
    pixel_values, latent_values = width * height * 3, latent_width * latent_height * channels
    return {
        "width": width,
        "height": height,
        "latent_width": latent_width,
        "latent_height": latent_height,
        "latent_channels": channels,
        "factor": width // latent_width,
        "pixel_values": pixel_values,
        "pixel_bits": pixel_values * 8,
        "latent_values": latent_values,
        "latent_bits": latent_values * bits,
        "latent_dtype": str(dtype).removeprefix("torch."),
        "value_ratio": round(pixel_values / latent_values, 2),
        "bit_ratio": round(pixel_values * 8 / (latent_values * bits), 2),
    }


def check_edit(edit: LatentEdit, channels: int, timesteps: int) -> None:
    """Each rule names the field, the value and the fix."""
    if edit.kind not in EDITS:
        raise InvalidRequestError("edit", edit.kind, f"must be one of {', '.join(EDITS)}")
    if edit.kind in ("zero", "scale", "swap") and not 0 <= edit.channel < channels:
        raise InvalidRequestError("channel", edit.channel, f"must be 0..{channels - 1} (the latent has {channels})")
    if edit.kind == "swap" and not 0 <= edit.other < channels:
        raise InvalidRequestError("other channel", edit.other, f"must be 0..{channels - 1}")
    if edit.kind == "scale" and not (math.isfinite(edit.factor) and abs(edit.factor) <= MAX_SCALE):
        raise InvalidRequestError("factor", edit.factor, f"must be a number between -{MAX_SCALE:g} and {MAX_SCALE:g}")
    if edit.kind == "noise" and not 0 <= edit.timestep < timesteps:
        raise InvalidRequestError("timestep", edit.timestep, f"must be 0..{timesteps - 1}")


def apply_edit(latents: torch.Tensor, edit: LatentEdit, alpha_bars: torch.Tensor) -> tuple[torch.Tensor, str]:
    """The edited copy of (1, C, h, w) diffusion latents, and one line saying what was done."""
    edited = latents.clone()
    if edit.kind == "zero":
        edited[:, edit.channel] = 0
        return edited, f"channel {edit.channel} set to 0"
    if edit.kind == "scale":
        edited[:, edit.channel] *= edit.factor
        return edited, f"channel {edit.channel} multiplied by {edit.factor:g}"
    if edit.kind == "swap":
        edited[:, [edit.channel, edit.other]] = latents[:, [edit.other, edit.channel]]
        return edited, f"channels {edit.channel} and {edit.other} swapped"
    if edit.kind == "noise":
        alpha_bar = float(alpha_bars[edit.timestep])
        generator = torch.Generator().manual_seed(edit.seed)
        noise = torch.randn(latents.shape, generator=generator).to(latents.device)
        edited = alpha_bar**0.5 * latents + (1 - alpha_bar) ** 0.5 * noise
        note = (
            f"noised to t = {edit.timestep}: x_t = {alpha_bar**0.5:.3f}·z + {(1 - alpha_bar) ** 0.5:.3f}·ε "
            f"(ᾱ_t = {alpha_bar:.4f}, σ_t = {noise_level(alpha_bar):.3f}), decoded as is"
        )
        return edited, note
    return edited, ""


def snap_to_factor(image: Image.Image, factor: int, native: int) -> tuple[Image.Image, list[str]]:
    """Larger than twice the model's size: scaled down to it; then cropped to a multiple of `factor` (centred)."""
    warnings = []
    if max(image.size) > 2 * native:
        scale = native / max(image.size)
        new_size = (max(factor, round(image.width * scale)), max(factor, round(image.height * scale)))
        warnings.append(f"the image was scaled from {image.width}×{image.height} to {new_size[0]}×{new_size[1]}")
        image = image.resize(new_size, Image.Resampling.LANCZOS)
    width, height = image.width // factor * factor, image.height // factor * factor
    if (width, height) != image.size:
        left, top = (image.width - width) // 2, (image.height - height) // 2
        image = image.crop((left, top, left + width, top + height))
    return image, warnings


def inspect_autoencoder(engine: Any, request: AutoencoderRequest) -> AutoencoderResult:
    """Encode, show, reconstruct, edit and decode, on the autoencoder of `request.task` (the engine held throughout)."""
    image = to_rgb("image", request.image, engine.config.limits.max_image_side)
    with engine.inspecting(request.task) as loaded:
        autoencoder = Autoencoder.of(loaded)
        alpha_bars = alphas_cumprod(loaded)
        image, warnings = snap_to_factor(image, autoencoder.factor, loaded.native_size)
        latents = autoencoder.encode(image_to_pixels(image))
        check_edit(request.edit, latents.shape[1], len(alpha_bars))
        reconstruction = pixels_to_image(autoencoder.decode(latents)[0])
        edited, note = apply_edit(latents, request.edit, alpha_bars)
        edited_image = pixels_to_image(autoencoder.decode(edited)[0]) if request.edit.kind != "none" else None
        dtype = autoencoder.dtype
    scale = display_scale(latents.shape[-2:][::-1])
    channels = []
    for index, channel in enumerate(latents[0]):
        stats = channel.float()
        channels.append(
            ChannelView(
                channel_picture(channel, scale),
                index,
                float(stats.min()),
                float(stats.max()),
                float(stats.mean()),
                float(stats.std()),
            )
        )
    return AutoencoderResult(
        image=image,
        channels=channels,
        reconstruction=reconstruction,
        psnr=psnr(image, reconstruction),
        edited=edited_image,
        edited_psnr=psnr(image, edited_image) if edited_image is not None else None,
        compression=compression(image.width, image.height, latents, dtype),
        edit_note=note,
        warnings=warnings,
    )
