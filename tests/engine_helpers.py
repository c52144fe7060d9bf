"""Small inputs for the engine tests (images, masks, maps) and the shared step count."""

from __future__ import annotations

from pathlib import Path

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


def write_tab_inputs(folder: Path, side: int) -> dict[str, str]:
    """Files for driving the tabs through the API, by stem: photo, small (an x4 input), map, layer (an editor layer
    whose alpha is a centred box mask)."""
    box = (side // 4, side // 4, 3 * side // 4, 3 * side // 4)
    noise_image(side, side).save(folder / "photo.png")
    noise_image(32, 32, seed=1).save(folder / "small.png")
    two_class_map(side, side).save(folder / "map.png")
    layer = box_mask(side, side, box).convert("RGBA")
    layer.putalpha(box_mask(side, side, box))
    layer.save(folder / "layer.png")
    return {path.stem: str(path) for path in folder.iterdir()}


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def scene_requests(seed: int, steps: int = STEPS) -> list:
    """One request per task built from a procedural scene (its caption, class map and image), at 128 px."""
    from ldm_core.palette import label_map_to_color
    from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest
    from ldm_train.data.scenes import render_scene

    scene = render_scene(seed)
    image = Image.fromarray(scene.image)
    return [
        TextToImageRequest(prompt=scene.caption, num_inference_steps=steps, seed=0),
        SemanticMapRequest(color_map=Image.fromarray(label_map_to_color(scene.label_map)), num_inference_steps=steps),
        InpaintRequest(image=image, mask=box_mask(128, 128, (32, 40, 100, 90)), num_inference_steps=steps, seed=0),
        UpscaleRequest(image=image.resize((32, 32)), num_inference_steps=steps, seed=0),
    ]
