"""Outpainting: grow the canvas, pre-fill the new band from the picture's edge, inpaint the band window by window.

Stages (pure functions of arrays, no model): `extend_canvas` pads the picture with its edge pixels, softened with
distance from the picture, and returns the band mask; `band_ramp` feathers the seam inside the band only (the
picture's own pixels never change); `outpaint_windows` orders model-sized windows so each one is painted with as much
known context as possible (the picture first, then what earlier windows painted), overlapping like the x4 tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from .tiling import tile_starts

Sides = tuple[int, int, int, int]  # left, top, right, bottom, in pixels


@dataclass(frozen=True)
class Canvas:
    pixels: np.ndarray  # (H, W, 3) uint8: the picture, with the band pre-filled
    band: np.ndarray  # (H, W) bool: the new pixels
    box: tuple[int, int, int, int]  # where the picture sits: left, top, right, bottom


def extend_canvas(image: Image.Image, sides: Sides, blur: float = 8.0) -> Canvas:
    """Pad with the edge pixels (each band pixel copies the nearest picture pixel), blurred more with distance."""
    left, top, right, bottom = sides
    pixels = np.asarray(image.convert("RGB"))
    padded = np.pad(pixels, ((top, bottom), (left, right), (0, 0)), mode="edge")
    height, width = padded.shape[:2]
    box = (left, top, left + image.width, top + image.height)
    band = np.ones((height, width), bool)
    band[box[1] : box[3], box[0] : box[2]] = False
    if blur > 0 and band.any():
        softened = np.asarray(Image.fromarray(padded).filter(ImageFilter.GaussianBlur(blur)))
        weight = np.clip(seam_distance((height, width), box) / (4 * blur), 0, 1)[..., None]
        prefill = padded * (1 - weight) + softened * weight
        padded = np.where(band[..., None], prefill.round(), padded).astype(np.uint8)
    return Canvas(padded, band, box)


def seam_distance(shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """Euclidean distance in pixels from each pixel to the picture's box (0 inside it, 1 for the first band pixel)."""
    rows, cols = np.arange(shape[0], dtype=np.float64), np.arange(shape[1], dtype=np.float64)
    dy = np.maximum(np.maximum(box[1] - rows, rows - (box[3] - 1)), 0)
    dx = np.maximum(np.maximum(box[0] - cols, cols - (box[2] - 1)), 0)
    return np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2)


def band_ramp(canvas: Canvas, feather: int) -> np.ndarray:
    """(H, W) weights of the painted band: 0 on the picture, rising over `feather` px into the band, then 1."""
    if feather <= 0:
        return canvas.band.astype(np.float64)
    distance = seam_distance(canvas.band.shape, canvas.box)
    return np.clip(distance / (feather + 1), 0, 1) * canvas.band


@dataclass(frozen=True)
class Window:
    left: int
    top: int
    width: int
    height: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return np.s_[self.top : self.top + self.height], np.s_[self.left : self.left + self.width]


def window_grid(shape: tuple[int, int], tile: int, overlap: int, multiple: int) -> list[Window]:
    """Windows of `tile` px (or the canvas side, rounded down to `multiple`) covering the canvas, overlapping."""
    height, width = shape
    tile_w = min(tile, width // multiple * multiple)
    tile_h = min(tile, height // multiple * multiple)
    return [
        Window(x, y, tile_w, tile_h)
        for y in tile_starts(height, tile_h, overlap)
        for x in tile_starts(width, tile_w, overlap)
    ]


def next_window(windows: list[Window], unpainted: np.ndarray) -> Window | None:
    """The window with unpainted pixels and the largest share of known ones (the most context); None when done."""
    best, best_known = None, -1.0
    for window in windows:
        todo = unpainted[window.slices]
        if not todo.any():
            continue
        known = 1.0 - todo.mean()
        if known > best_known:
            best, best_known = window, known
    return best


def window_weight(window: Window, unpainted: np.ndarray, band: np.ndarray, overlap: int) -> np.ndarray:
    """How much of a window's output to keep: 1 on its unpainted pixels, a linear ramp from the window's edges over
    band pixels earlier windows painted (a soft join), 0 on the picture."""
    rows = np.arange(window.height) + 0.5
    cols = np.arange(window.width) + 0.5
    ramp_y = np.clip(np.minimum(rows, window.height - rows) / max(overlap, 1), 0, 1)
    ramp_x = np.clip(np.minimum(cols, window.width - cols) / max(overlap, 1), 0, 1)
    ramp = np.minimum(ramp_y[:, None], ramp_x[None, :])
    todo, in_band = unpainted[window.slices], band[window.slices]
    return np.where(todo, 1.0, ramp * in_band)


ANCHORS = ("centre", "left", "right", "top", "bottom", "top-left", "top-right", "bottom-left", "bottom-right")


def sides_for_target(size: tuple[int, int], target: tuple[int, int], anchor: str = "centre") -> Sides:
    """The extension that grows a `size` picture to `target`, the picture kept at `anchor` (ValueError if smaller)."""
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}, got {anchor!r}")
    extra_w, extra_h = target[0] - size[0], target[1] - size[1]
    if extra_w < 0 or extra_h < 0:
        raise ValueError(f"the target {target[0]}x{target[1]} is smaller than the picture's {size[0]}x{size[1]}")
    left = 0 if "left" in anchor else extra_w if "right" in anchor else extra_w // 2
    top = 0 if "top" in anchor else extra_h if "bottom" in anchor else extra_h // 2
    return left, top, extra_w - left, extra_h - top
