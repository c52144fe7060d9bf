"""Per-request limits: what one request may ask of the device. Plain data; the entry point fills it from CLI flags.

A shared studio hands a GPU to whoever has the link: these bound the work (steps, batch, pixels) and the input
(prompt length, image size, decoded pixels) any single request can cause.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_steps: int = 150  # denoising steps per image
    max_batch: int = 8  # images per request
    max_pixels: int = 4096 * 4096  # output pixels per request: width x height x batch (x16 for the x4 upscaler)
    max_prompt_chars: int = 2000  # prompt and negative prompt, each
    max_size: int = 2048  # text-to-image width and height
    max_image_side: int = 4096  # input images (inpainting, semantic maps), each side
    max_upscale_side: int = 1024  # super-resolution input, each side (x4 output stays within 4096)
    max_request_seconds: int = 60  # estimated seconds one request may hold the device (ldm_core.budget)

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, got {value!r}")

    @property
    def max_image_pixels(self) -> int:
        """Decoded pixels an input file may have; Pillow refuses files past twice this as decompression bombs."""
        return self.max_image_side * self.max_image_side
