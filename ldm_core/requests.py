"""Typed requests and results: every task takes one frozen request and returns one `GenerationResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .schedulers import SAMPLERS

SCHEDULERS = tuple(SAMPLERS)  # the sampler names a request may give (defined once, in ldm_core.schedulers)


@dataclass(frozen=True, kw_only=True)
class GenerationRequest:
    """Sampling fields shared by every task. seed=-1 draws a random seed; the seed used is in the result."""

    num_inference_steps: int = 15  # DPM-Solver++ 2M at 15 steps looks like DDIM at 25 (and meets the CPU speed bars)
    guidance_scale: float = 5.0
    seed: int = -1
    scheduler: str = "dpm++2m"  # one of SCHEDULERS
    batch_size: int = 1


@dataclass(frozen=True, kw_only=True)
class TextToImageRequest(GenerationRequest):
    prompt: str
    negative_prompt: str = ""
    width: int | None = None  # None: the model's native size
    height: int | None = None


@dataclass(frozen=True, kw_only=True)
class SemanticMapRequest(GenerationRequest):
    color_map: Image.Image  # ADE20K colours; off-palette pixels snap to the nearest class
    prompt: str = ""  # used by ControlNet-seg (sd15); the built-in model is conditioned on the map alone
    negative_prompt: str = ""


@dataclass(frozen=True, kw_only=True)
class InpaintRequest(GenerationRequest):
    image: Image.Image
    mask: Image.Image  # white (or alpha > 0 in an editor layer) = repaint
    prompt: str = ""
    negative_prompt: str = ""
    strength: float = 1.0
    mask_blur: int = 4
    invert_mask: bool = False
    only_masked: bool = False  # crop around the mask (with padding), inpaint at model size, paste back
    only_masked_padding: int = 32


@dataclass(frozen=True, kw_only=True)
class UpscaleRequest(GenerationRequest):
    image: Image.Image
    tile_size: int | None = None  # low-res tile edge in pixels; None: 128 (or the model's native tile if larger)
    tile_overlap: int = 8  # low-res pixels shared by neighbouring tiles, blended linearly
    # 1.0: sample from pure noise (the paper; no VAE encode, the fastest); lower: start from the noised bicubic latent
    strength: float = 1.0
    back_project: bool = True  # take colours / low frequencies from the input (iterative back-projection)


@dataclass(frozen=True)
class ProgressEvent:
    step: int
    total_steps: int
    preview: Image.Image | None = None  # cheap latent-space preview, when available


@dataclass(frozen=True)
class GenerationResult:
    task: str  # the task's name in ldm_core.registry
    images: list[Image.Image]
    seed: int
    model: str
    infotexts: list[str]
    saved_paths: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
