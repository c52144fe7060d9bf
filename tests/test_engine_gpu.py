"""CUDA-only checks (memory modes, fp16) and real-weight smoke tests; skipped with a reason where those are absent."""

from __future__ import annotations

import pytest
import torch
from engine_helpers import STEPS, box_mask, noise_image, two_class_map
from huggingface_hub import try_to_load_from_cache

from ldm_core.presets import SD15
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def every_task():
    common = {"num_inference_steps": STEPS, "seed": 1}
    return [
        (TextToImageRequest(prompt="a tree", width=64, height=64, **common), (64, 64)),
        (SemanticMapRequest(color_map=two_class_map(64, 64), **common), (128, 128)),
        (InpaintRequest(image=noise_image(64, 64), mask=box_mask(64, 64, (8, 8, 40, 40)), **common), (64, 64)),
        (UpscaleRequest(image=noise_image(32, 32), **common), (128, 128)),
    ]


@needs_cuda
@pytest.mark.parametrize("offload", ["none", "model", "sequential"])
def test_every_task_runs_on_cuda_in_each_memory_mode(make_engine, family_root, offload):
    engine = make_engine(model_root=family_root, device="cuda", dtype="fp16", offload=offload, attention_slicing=True)
    assert engine.describe()["memory_mode"] == offload and engine.describe()["dtype"] == "float16"
    for request, size in every_task():
        assert engine.run(request).images[0].size == size


@needs_cuda
def test_offload_auto_picks_a_mode_from_free_memory(make_engine, family_root):
    engine = make_engine(model_root=family_root, device="cuda", offload="auto")
    assert engine.describe()["memory_mode"] in ("none", "model", "sequential")
    assert any("picked automatically" in notice for notice in engine.describe()["notices"])


@needs_cuda
@pytest.mark.skipif(
    not isinstance(try_to_load_from_cache(SD15, "model_index.json"), str), reason=f"{SD15} is not in the hub cache"
)
def test_sd15_real_weights_make_an_image(make_engine):
    engine = make_engine(preset="sd15", device="cuda")
    result = engine.run(TextToImageRequest(prompt="a house by a lake", num_inference_steps=10, seed=1))
    assert result.images[0].size == (512, 512) and result.model == "stable-diffusion-v1-5"
