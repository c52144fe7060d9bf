"""The family shipped in assets/ loads through the engine and runs every task (2 steps): weights, configs and
tokenizer are complete and consistent. Skipped, with the reason, on a checkout without the trained family."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ldm_core.data.scenes import render_scene
from ldm_core.palette import label_map_to_color
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest

FAMILY = Path(__file__).resolve().parent.parent / "assets" / "builtin"
pytestmark = pytest.mark.skipif(not (FAMILY / "family.json").exists(), reason="no trained family in assets/builtin")


def test_shipped_family_is_small_and_fp16():
    total = sum(f.stat().st_size for f in FAMILY.parent.rglob("*") if f.is_file())
    assert total < 40 * 2**20, f"assets/ is {total / 2**20:.1f} MB; the budget is 40 MB"
    assert json.loads((FAMILY / "family.json").read_text())["weights_dtype"] == "float16"


def test_shipped_family_runs_every_task(make_engine):
    engine = make_engine(model_root=FAMILY)
    assert all(reason is None for reason in engine.task_status().values()), engine.task_status()
    scene = render_scene(11)
    mask = np.zeros((128, 128), np.uint8)
    mask[40:90, 30:100] = 255
    requests = [
        TextToImageRequest(prompt=scene.caption, num_inference_steps=2, seed=0),
        SemanticMapRequest(
            color_map=Image.fromarray(label_map_to_color(scene.label_map)), num_inference_steps=2, seed=0
        ),
        InpaintRequest(image=Image.fromarray(scene.image), mask=Image.fromarray(mask), num_inference_steps=2, seed=0),
        UpscaleRequest(image=Image.fromarray(scene.image).resize((32, 32)), num_inference_steps=2, seed=0),
    ]
    for request in requests:
        image = np.asarray(engine.run(request).images[0])
        assert image.shape == (128, 128, 3)
        assert image.std() > 1.0, f"{type(request).__name__} gave a flat image"
