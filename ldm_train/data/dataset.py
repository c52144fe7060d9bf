"""Scene datasets as arrays, rendered once in parallel and cached as .npz (the cache folder is git-ignored)."""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .scenes import ATTRIBUTES, TIMES, render_scene

logger = logging.getLogger(__name__)

TRAIN_SEED_OFFSET = 0
HELDOUT_SEED_OFFSET = 10_000_000  # held-out scenes never overlap the training seeds


@dataclass
class SceneArrays:
    images: np.ndarray  # (N, H, W, 3) uint8
    label_maps: np.ndarray  # (N, H, W) uint8
    captions: list[str]
    times: np.ndarray  # (N,) int, index into TIMES
    attributes: np.ndarray  # (N, len(ATTRIBUTES)) bool

    def __len__(self) -> int:
        return len(self.images)


def _render(args: tuple[int, int]) -> tuple:
    seed, size = args
    scene = render_scene(seed, size)
    return (
        scene.image,
        scene.label_map,
        scene.caption,
        TIMES.index(scene.time),
        [scene.attributes[a] for a in ATTRIBUTES],
    )


def render_scenes(count: int, seed_offset: int = TRAIN_SEED_OFFSET, size: int = 128, workers: int = 2) -> SceneArrays:
    jobs = [(seed_offset + i, size) for i in range(count)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_render, jobs, chunksize=64))
    else:
        rows = [_render(job) for job in jobs]
    images, labels, captions, times, attrs = zip(*rows, strict=False)
    return SceneArrays(np.stack(images), np.stack(labels), list(captions), np.array(times), np.array(attrs, dtype=bool))


def load_scenes(
    cache_dir: Path, count: int, seed_offset: int = TRAIN_SEED_OFFSET, size: int = 128, workers: int = 2
) -> SceneArrays:
    """Render `count` scenes from `seed_offset`, or load them from the cache."""
    path = Path(cache_dir) / f"scenes_{seed_offset}_{count}_{size}.npz"
    larger = [
        p for p in Path(cache_dir).glob(f"scenes_{seed_offset}_*_{size}.npz") if int(p.stem.split("_")[2]) > count
    ]
    if not path.exists() and larger:  # the first `count` scenes of a bigger cached set are the same scenes
        return _slice(load_scenes(cache_dir, int(larger[0].stem.split("_")[2]), seed_offset, size), count)
    if path.exists():
        data = np.load(path, allow_pickle=False)
        return SceneArrays(
            data["images"], data["label_maps"], data["captions"].tolist(), data["times"], data["attributes"]
        )
    logger.info("rendering %d scenes (seeds %d..) into %s", count, seed_offset, path)
    arrays = render_scenes(count, seed_offset, size, workers)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        images=arrays.images,
        label_maps=arrays.label_maps,
        captions=np.array(arrays.captions),
        times=arrays.times,
        attributes=arrays.attributes,
    )
    tmp.replace(path)
    return arrays


def _slice(arrays: SceneArrays, count: int) -> SceneArrays:
    return SceneArrays(
        arrays.images[:count],
        arrays.label_maps[:count],
        arrays.captions[:count],
        arrays.times[:count],
        arrays.attributes[:count],
    )
