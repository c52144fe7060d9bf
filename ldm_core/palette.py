"""The class palette shared by the semantic-map tab, the scene generator and the evaluator.

Colours are the standard ADE20K palette (the one ControlNet-seg was trained on), so one painted map drives both the
built-in model and `lllyasviel/control_v11p_sd15_seg`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SceneClass:
    name: str
    ade_index: int  # index in ADE20K's 150-class list
    color: tuple[int, int, int]


# Order defines the built-in models' class ids (0..N-1); never reorder, only append.
CLASSES: tuple[SceneClass, ...] = (
    SceneClass("sky", 2, (6, 230, 230)),
    SceneClass("tree", 4, (4, 200, 3)),
    SceneClass("grass", 9, (4, 250, 7)),
    SceneClass("mountain", 16, (143, 255, 140)),
    SceneClass("water", 21, (61, 230, 250)),
    SceneClass("sea", 26, (9, 7, 230)),
    SceneClass("house", 25, (255, 9, 224)),
    SceneClass("field", 29, (112, 9, 255)),
    SceneClass("sand", 46, (160, 150, 20)),
    SceneClass("rock", 34, (255, 41, 10)),
    SceneClass("river", 60, (11, 200, 200)),
    SceneClass("flower", 66, (255, 0, 0)),
    SceneClass("hill", 68, (255, 102, 0)),
    SceneClass("road", 6, (140, 140, 140)),
)
NUM_CLASSES = len(CLASSES)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
CLASS_ID: dict[str, int] = {c.name: i for i, c in enumerate(CLASSES)}
PALETTE = np.array([c.color for c in CLASSES], dtype=np.uint8)  # (N, 3)


@dataclass(frozen=True)
class SnapResult:
    label_map: np.ndarray  # (H, W) int64 class ids
    off_palette_fraction: float  # share of pixels whose colour was not exactly a palette colour


def label_map_to_color(label_map: np.ndarray) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) uint8 ADE20K colours."""
    return PALETTE[np.asarray(label_map, dtype=np.int64)]


def snap_to_palette(color_map: np.ndarray, rows_per_chunk: int = 128) -> SnapResult:
    """Map every pixel of an (H, W, 3) colour image to the nearest palette class (anti-aliased edges, JPEG noise).

    Works `rows_per_chunk` rows at a time, so the (rows, W, N) distance table stays small whatever the map's size.
    """
    pixels = np.asarray(color_map)[..., :3]
    palette = PALETTE.astype(np.int32)
    label_map = np.empty(pixels.shape[:2], dtype=np.int64)
    exact = 0
    for top in range(0, pixels.shape[0], rows_per_chunk):
        chunk = pixels[top : top + rows_per_chunk].astype(np.int32)
        distances = ((chunk[..., None, :] - palette) ** 2).sum(-1)  # (rows, W, N)
        label_map[top : top + rows_per_chunk] = distances.argmin(-1)
        exact += int((distances.min(-1) == 0).sum())
    total = max(1, pixels.shape[0] * pixels.shape[1])
    return SnapResult(label_map=label_map, off_palette_fraction=float(1.0 - exact / total))
