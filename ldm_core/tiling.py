"""Tiled x4 upscaling of any size: overlapping tiles, blended with linear ramps over the overlaps (no seams)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

TileUpscaler = Callable[[torch.Tensor], np.ndarray]  # (1, 3, t, t) in [-1, 1] -> (t*s, t*s, 3) in [0, 1]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: stride tile - overlap, the last tile flush with the end."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def count_tiles(width: int, height: int, tile: int, overlap: int) -> int:
    return len(tile_starts(width, tile, overlap)) * len(tile_starts(height, tile, overlap))


def _ramp(tile: int, ramp: int, rise: bool, fall: bool) -> np.ndarray:
    """1-D weights: rising linearly over `ramp` pixels at a shared left edge, falling at a shared right edge."""
    position = np.arange(tile, dtype=np.float64) + 0.5
    weight = np.ones(tile)
    if ramp > 0 and rise:
        weight = np.minimum(weight, position / ramp)
    if ramp > 0 and fall:
        weight = np.minimum(weight, (tile - position) / ramp)
    return weight


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB -> (1, 3, H, W) in [-1, 1], exactly as LDMSuperResolutionPipeline's own preprocessing does it."""
    pixels = np.array(image).astype(np.float32) / 255.0
    return 2.0 * torch.from_numpy(pixels[None].transpose(0, 3, 1, 2)) - 1.0


def upscale_tiled(image: Image.Image, tile: int, overlap: int, scale: int, upscale_tile: TileUpscaler) -> np.ndarray:
    """Upscale `image` (RGB) tile by tile; returns (H*s, W*s, 3) floats in [0, 1].

    An image smaller than a tile is edge-padded to one tile and cropped after; one that fits one tile exactly is
    upscaled in a single call, identical to the untiled pipeline.
    """
    width, height = image.size
    padded_w, padded_h = max(width, tile), max(height, tile)
    pixels = np.asarray(image)
    if (padded_w, padded_h) != (width, height):
        pixels = np.pad(pixels, ((0, padded_h - height), (0, padded_w - width), (0, 0)), mode="edge")
    xs, ys = tile_starts(padded_w, tile, overlap), tile_starts(padded_h, tile, overlap)
    out = np.zeros((padded_h * scale, padded_w * scale, 3))
    weights = np.zeros((padded_h * scale, padded_w * scale, 1))
    ramp = overlap * scale
    for y in ys:
        for x in xs:
            crop = Image.fromarray(pixels[y : y + tile, x : x + tile])
            result = upscale_tile(image_to_tensor(crop)).astype(np.float64)
            weight_x = _ramp(tile * scale, ramp, x > 0, x + tile < padded_w)
            weight_y = _ramp(tile * scale, ramp, y > 0, y + tile < padded_h)
            weight = (weight_y[:, None] * weight_x[None, :])[..., None]
            region = np.s_[y * scale : (y + tile) * scale, x * scale : (x + tile) * scale]
            out[region] += result * weight
            weights[region] += weight
    return (out / weights)[: height * scale, : width * scale]
