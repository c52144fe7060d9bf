"""Presets, sources and sharing: one VAE and text encoder per preset; a missing or broken model fails by name only."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from engine_helpers import STEPS, box_mask, noise_image, two_class_map

from ldm_core.errors import InvalidRequestError, ModelNotAvailableError
from ldm_core.registry import TASKS
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest
from ldm_core.tasks.inpaint import blur_mask

SMALL = {"num_inference_steps": STEPS, "seed": 1}


def text_request(**fields):
    return TextToImageRequest(**({"prompt": "a tree", "width": 64, "height": 64} | SMALL | fields))


def inpaint_request():
    return InpaintRequest(image=noise_image(64, 64), mask=box_mask(64, 64, (8, 8, 32, 32)), **SMALL)


def test_engine_construction_loads_nothing(make_engine, family_root):
    engine = make_engine(model_root=family_root)
    assert engine.describe()["loaded"] == []
    assert engine.task_status() == {task: None for task in TASKS}


def test_builtin_tasks_share_one_vae_and_one_text_encoder(engine):
    pipes = {task: engine.load(task).pipe for task in ("text2img", "inpaint", "semantic", "upscale")}
    vae = pipes["text2img"].vae
    assert pipes["inpaint"].vae is vae and pipes["semantic"].vae is vae and pipes["upscale"].vqvae is vae
    assert pipes["inpaint"].text_encoder is pipes["text2img"].text_encoder
    assert pipes["inpaint"].tokenizer is pipes["text2img"].tokenizer
    assert engine.load("text2img") is engine.load("text2img")  # loaded once


def test_missing_unet_folder_makes_only_that_task_unavailable(make_engine, family_root, tmp_path):
    root = tmp_path / "family"
    shutil.copytree(family_root, root, ignore=shutil.ignore_patterns("unet_semantic"))
    engine = make_engine(model_root=root)
    assert "unet_semantic" in engine.task_status()["semantic"]
    with pytest.raises(ModelNotAvailableError, match="unet_semantic"):
        engine.run(SemanticMapRequest(color_map=two_class_map(32, 32), **SMALL))
    assert engine.run(text_request()).images
    assert engine.task_status()["text2img"] is None and engine.task_status()["semantic"] is not None


def test_corrupt_weights_are_a_named_error_and_other_tasks_work(make_engine, family_root, tmp_path):
    root = tmp_path / "family"
    shutil.copytree(family_root, root)
    (root / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file")
    engine = make_engine(model_root=root)
    with pytest.raises(ModelNotAvailableError, match=r"built-in text2img model .*--model-dir"):
        engine.run(text_request())
    assert "text2img" in engine.task_status()["text2img"]  # the failure is remembered for the status line
    assert engine.run(inpaint_request()).images


def test_missing_family_folder(make_engine, tmp_path):
    engine = make_engine(model_root=tmp_path / "nowhere")
    assert all("does not exist" in reason for reason in engine.task_status().values())
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        engine.run(text_request())


def test_hub_models_offline_say_how_to_get_them(make_engine):
    engine = make_engine(preset="sd15")
    status = engine.task_status()
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in status["text2img"]
    assert "ldm-super-resolution-4x-openimages" in status["upscale"]
    with pytest.raises(ModelNotAvailableError, match="hub connection"):
        engine.run(text_request())


def test_ldm_paper_preset_has_no_inpainting(make_engine, other_layouts):
    engine = make_engine(preset="ldm-paper", sources={"text2img": str(other_layouts["ldm-text"])})
    assert "not part of the ldm-paper preset" in engine.task_status()["inpaint"]
    with pytest.raises(ModelNotAvailableError, match="not part of the ldm-paper preset"):
        engine.run(inpaint_request())
    result = engine.run(text_request(negative_prompt="fog", batch_size=2))
    assert [image.size for image in result.images] == [(64, 64)] * 2
    assert any("negative prompt" in warning for warning in result.warnings)


def test_sd15_layout_runs_every_task_and_shares_components(make_engine, other_layouts):
    sources = {
        "text2img": str(other_layouts["sd15"]),
        "inpaint": str(other_layouts["sd15-inpaint"]),
        "semantic": str(other_layouts["controlnet-seg"]),
        "upscale": str(other_layouts["ldm-sr"]),
    }
    engine = make_engine(preset="sd15", sources=sources)
    assert engine.run(text_request()).images[0].size == (64, 64)
    inpainted = engine.run(inpaint_request())
    semantic = engine.run(SemanticMapRequest(color_map=two_class_map(64, 32), prompt="a field", **SMALL))
    upscaled = engine.run(UpscaleRequest(image=noise_image(16, 16), tile_size=16, **SMALL))
    assert inpainted.images[0].size == (64, 64) and semantic.images[0].size == (64, 32)
    assert upscaled.images[0].size == (64, 64) and semantic.model == "controlnet-seg"
    pipes = {task: engine.load(task).pipe for task in ("text2img", "inpaint", "semantic")}
    assert pipes["inpaint"].vae is pipes["text2img"].vae is pipes["semantic"].vae
    assert pipes["inpaint"].text_encoder is pipes["text2img"].text_encoder is pipes["semantic"].text_encoder
    assert pipes["inpaint"].unet is not pipes["text2img"].unet and pipes["semantic"].unet is pipes["text2img"].unet
    outside = np.asarray(blur_mask(box_mask(64, 64, (8, 8, 32, 32)), 4)) == 0  # the request's default blur
    np.testing.assert_array_equal(np.asarray(inpainted.images[0])[outside], np.asarray(noise_image(64, 64))[outside])


def test_unknown_preset_and_task_override_are_named(make_engine):
    with pytest.raises(InvalidRequestError, match="preset"):
        make_engine(preset="sdxl")
    with pytest.raises(InvalidRequestError, match="inpaint"):
        make_engine(preset="ldm-paper", sources={"inpaint": "/somewhere"})


def test_offload_on_cpu_is_skipped_with_a_notice(make_engine, family_root):
    engine = make_engine(model_root=family_root, offload="model", attention_slicing=True, vae_tiling=True)
    description = engine.describe()
    assert description["memory_mode"] == "none" and description["device"] == "cpu"
    assert any("offload model skipped" in notice for notice in description["notices"])
    assert engine.run(text_request()).images  # slicing and tiling apply on CPU


def test_bad_device_and_dtype_are_named(make_engine):
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(InvalidRequestError, match="no CUDA device"):
            make_engine(device="cuda")
    with pytest.raises(InvalidRequestError, match="device"):
        make_engine(device="tpu:banana")
    with pytest.raises(InvalidRequestError, match="dtype"):
        make_engine(dtype="fp8")
    with pytest.raises(InvalidRequestError, match="offload"):
        make_engine(offload="disk")


def test_a_builtin_task_can_point_at_another_unet_folder(make_engine, family_root, tmp_path):
    shutil.copytree(family_root / "unet", tmp_path / "my-unet")
    engine = make_engine(model_root=family_root, sources={"text2img": str(tmp_path / "my-unet")})
    assert engine.task_status()["text2img"] is None
    result = engine.run(text_request())
    assert result.images[0].size == (64, 64)
    assert engine.load("text2img").pipe.vae is engine.load("inpaint").pipe.vae


def test_a_broken_single_file_source_is_a_named_error(make_engine, other_layouts, tmp_path):
    checkpoint = tmp_path / "controlnet.safetensors"
    checkpoint.write_bytes(b"\x00" * 64)
    sources = {"text2img": str(other_layouts["sd15"]), "semantic": str(checkpoint)}
    engine = make_engine(preset="sd15", sources=sources)
    with pytest.raises(ModelNotAvailableError, match="controlnet.safetensors"):
        engine.run(SemanticMapRequest(color_map=two_class_map(32, 32), prompt="a field", **SMALL))
    assert engine.run(text_request()).images


def test_save_family_stores_fp16_and_leaves_the_callers_weights_alone(tmp_path):
    import torch

    from ldm_core import models
    from ldm_core.family import save_family

    tokenizer = models.build_word_tokenizer(["tree"])
    vae = models.make_vae("tiny")
    weight = next(vae.parameters())
    with torch.no_grad():
        weight.fill_(1.0001)  # not representable in fp16
    save_family(
        tmp_path / "family",
        vae=vae,
        tokenizer=tokenizer,
        text_encoder=models.make_text_encoder(tokenizer, "tiny"),
        scheduler=models.make_scheduler(),
        unet_semantic=models.make_unet_semantic("tiny"),
    )
    assert weight.dtype == torch.float32 and float(weight.detach().flatten()[0]) == pytest.approx(1.0001, abs=1e-6)
    assert sorted(path.name for path in (tmp_path / "family").iterdir()) == [
        "family.json",
        "scheduler",
        "text_encoder",
        "tokenizer",
        "unet_semantic",
        "vae",
    ]
    from safetensors.torch import load_file

    stored = load_file(tmp_path / "family" / "vae" / "diffusion_pytorch_model.safetensors")
    assert {tensor.dtype for tensor in stored.values()} == {torch.float16}
