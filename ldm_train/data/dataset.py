"""Scene datasets as arrays, rendered once in parallel and cached as .npz (the cache folder is git-ignored).

Cache files are named by the generator's version (a hash of scenes.py), so a cache written by an older generator is
never read as today's scenes; the arrays handed out are read-only, so no caller can change what another one reads."""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import scenes as _scenes
from .scenes import ATTRIBUTES, TIMES, render_scene

logger = logging.getLogger(__name__)

TRAIN_SEED_OFFSET = 0
HELDOUT_SEED_OFFSET = 10_000_000  # held-out scenes never overlap the training seeds
# The scene generator's version: a hash of its source, so any change to how scenes or captions are made renders anew.
GENERATOR_VERSION = hashlib.sha1(Path(_scenes.__file__).read_bytes()).hexdigest()[:10]


@dataclass
class SceneArrays:
    images: np.ndarray  # (N, H, W, 3) uint8
    label_maps: np.ndarray  # (N, H, W) uint8
    captions: list[str]
    times: np.ndarray  # (N,) int, index into TIMES
    attributes: np.ndarray  # (N, len(ATTRIBUTES)) bool

    def __len__(self) -> int:
        return len(self.images)

    def __post_init__(self) -> None:
        for array in (self.images, self.label_maps, self.times, self.attributes):
            array.setflags(write=False)  # shared by every stage of a run: nobody may change them in place


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
    """Render `count` scenes from `seed_offset`, or load them from the cache (only one this generator version wrote)."""
    path = scene_cache_path(cache_dir, count, seed_offset, size)
    larger = [p for p in path.parent.glob(f"{path.name.split('_n')[0]}_n*.npz") if _count(p) > count]
    if not path.exists() and larger:  # the first `count` scenes of a bigger cached set are the same scenes
        return _slice(load_scenes(cache_dir, min(_count(p) for p in larger), seed_offset, size), count)
    if path.exists():
        data = np.load(path, allow_pickle=False)
        if str(data["generator_version"]) != GENERATOR_VERSION:
            raise ValueError(f"{path} was written by scene generator {data['generator_version']}; delete it")
        return SceneArrays(
            data["images"], data["label_maps"], data["captions"].tolist(), data["times"], data["attributes"]
        )
    logger.info("rendering %d scenes (seeds %d..) into %s", count, seed_offset, path)
    arrays = render_scenes(count, seed_offset, size, workers)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"partial_{path.name}")  # written whole, then renamed: a reader never sees half a file
    np.savez(
        tmp,
        images=arrays.images,
        label_maps=arrays.label_maps,
        captions=np.array(arrays.captions),
        times=arrays.times,
        attributes=arrays.attributes,
        generator_version=np.array(GENERATOR_VERSION),
    )
    tmp.replace(path)
    return arrays


def scene_cache_path(cache_dir: Path, count: int, seed_offset: int = TRAIN_SEED_OFFSET, size: int = 128) -> Path:
    """Where `count` scenes from `seed_offset` are cached: the name carries the generator version."""
    return Path(cache_dir) / f"scenes_g{GENERATOR_VERSION}_s{seed_offset}_{size}px_n{count}.npz"


def _count(path: Path) -> int:
    return int(path.stem.rsplit("_n", 1)[1])


def _slice(arrays: SceneArrays, count: int) -> SceneArrays:
    return SceneArrays(
        arrays.images[:count],
        arrays.label_maps[:count],
        arrays.captions[:count],
        arrays.times[:count],
        arrays.attributes[:count],
    )
