"""Render the ready-made inputs the studio's tabs offer: semantic maps, and a few scene images to inpaint or upscale.

    python examples/make_examples.py

Scenes come from the procedural generator the built-in models were trained on (`ldm_train.data.scenes`), so the maps
are in-distribution. Output: examples/semantic/*.png (ADE20K colour maps), examples/images/*.png (scene renders).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ldm_core.palette import label_map_to_color  # noqa: E402
from ldm_train.data.scenes import render_scene  # noqa: E402 (after the sys.path line)

MAP_SIZE = 256  # the semantic tab's canvas size
IMAGE_SIZE = 128  # the built-in family's native size (inpainting input)
LOW_RES_SIZE = 64  # a super-resolution input (x4 -> 256)
MAX_SEED = 500


WANTED = {  # name -> rule on (caption, attributes); one distinct seed each
    "lake_mountains": lambda caption, a: "lake" in caption and a["mountain"] and a["time"] == "day",
    "beach": lambda caption, a: "beach" in caption and a["time"] == "day",
    "forest_house": lambda caption, a: "house" in caption and a["trees"] and not a["water"],
    "river_valley": lambda caption, a: ("river" in caption or "stream" in caption) and a["time"] == "day",
    "road_hills": lambda caption, a: a["road"] and a["hill"] and a["time"] != "night",
}
IMAGES = ("lake_mountains", "forest_house", "beach")  # scene renders kept as inpainting / upscaling inputs


def pick_scenes() -> dict[str, int]:
    """The first seed showing each kind of scene, so the examples cover the palette."""
    picked: dict[str, int] = {}
    for seed in range(MAX_SEED):
        scene = render_scene(seed, size=MAP_SIZE)
        attributes = {**scene.attributes, "time": scene.time}
        for name, rule in WANTED.items():
            if name not in picked and seed not in picked.values() and rule(scene.caption, attributes):
                picked[name] = seed
        if len(picked) == len(WANTED):
            break
    return picked


def main() -> None:
    (HERE / "semantic").mkdir(exist_ok=True)
    (HERE / "images").mkdir(exist_ok=True)
    for name, seed in pick_scenes().items():
        scene = render_scene(seed, size=MAP_SIZE)
        color_map = label_map_to_color(scene.label_map).astype(np.uint8)
        Image.fromarray(color_map).save(HERE / "semantic" / f"{name}.png", optimize=True)
        print(f"{name}: seed {seed} ({scene.caption})")
        if name in IMAGES:
            image = Image.fromarray(render_scene(seed, size=IMAGE_SIZE).image)
            image.save(HERE / "images" / f"{name}.png", optimize=True)
            low_res = image.resize((LOW_RES_SIZE, LOW_RES_SIZE), Image.Resampling.LANCZOS)
            low_res.save(HERE / "images" / f"{name}_64px.png", optimize=True)


if __name__ == "__main__":
    main()
