"""Small inputs for the engine tests (images, masks, maps) and the shared step count."""

from __future__ import annotations

import numpy as np
from PIL import Image

STEPS = 2  # every stage runs; the images are noise either way


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def box_mask(width: int, height: int, box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", (width, height), 0)
    mask.paste(255, box)
    return mask


def two_class_map(width: int, height: int) -> Image.Image:
    """Sky over grass, in exact palette colours."""
    from ldm_core.palette import CLASS_ID, PALETTE

    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[: height // 2] = PALETTE[CLASS_ID["sky"]]
    pixels[height // 2 :] = PALETTE[CLASS_ID["grass"]]
    return Image.fromarray(pixels)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)
