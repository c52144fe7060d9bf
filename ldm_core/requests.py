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
class CascadeOptions:
    """Run the preset's x4 model on every image in the same request (the LDM cascade; A1111's "Hires. fix")."""

    upscale_x4: bool = False
    upscale_steps: int = 15  # denoising steps of the x4 pass (from pure noise, as the super-resolution tab's default)


@dataclass(frozen=True, kw_only=True)
class TextToImageRequest(CascadeOptions, GenerationRequest):
    prompt: str
    negative_prompt: str = ""
    width: int | None = None  # None: the model's native size (times size_scale)
    height: int | None = None
    size_scale: int = 1  # with width/height None: 2 samples at twice the model's size (convolutional sampling)


@dataclass(frozen=True, kw_only=True)
class SemanticMapRequest(CascadeOptions, GenerationRequest):
    color_map: Image.Image  # ADE20K colours; off-palette pixels snap to the nearest class
    prompt: str = ""  # used by ControlNet-seg (sd15); the built-in model is conditioned on the map alone
    negative_prompt: str = ""
    # "map": the map's own size (convolutional sampling) up to Limits.max_semantic_side; "model": the model's size
    output_size: str = "map"


@dataclass(frozen=True, kw_only=True)
class InpaintRequest(GenerationRequest):
    image: Image.Image
    mask: Image.Image | None = None  # white (or alpha > 0 in an editor layer) = repaint; optional when outpainting
    prompt: str = ""
    negative_prompt: str = ""
    strength: float = 1.0
    mask_blur: int = 4
    invert_mask: bool = False
    only_masked: bool = False  # crop around the mask (with padding), inpaint at model size, paste back
    only_masked_padding: int = 32
    # outpainting: pixels added on each side, pre-filled from the edge and inpainted; the picture's own pixels never
    # change, the seam is feathered inside the new band only
    extend_left: int = 0
    extend_top: int = 0
    extend_right: int = 0
    extend_bottom: int = 0
    # px of the band over which the painted pixels fade in from the picture's edge. 3: the seam's colour step on
    # held-out scenes is closest to the uncropped scenes' there (0 leaves a visible step, 4 smooths it too much)
    outpaint_feather: int = 3

    @property
    def extends(self) -> bool:
        return any((self.extend_left, self.extend_top, self.extend_right, self.extend_bottom))


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
