"""A family whose schedule is v-prediction on zero-terminal-SNR betas with trailing timesteps (Lin et al. 2024), and
rescaled guidance: every sampler carries that schedule, runs every task on a tiny random model, and stays finite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler
from engine_helpers import box_mask, noise_image, pixels, two_class_map

from ldm_core.infotext import parse_infotext
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest
from ldm_core.schedulers import SAMPLERS

ZERO_SNR = {"prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "timestep_spacing": "trailing"}
TASKS = ("text2img", "semantic", "inpaint", "upscale")


def zero_snr_scheduler() -> DDIMScheduler:
    from ldm_core.models import make_scheduler

    return DDIMScheduler.from_config(make_scheduler().config, **ZERO_SNR)


@pytest.fixture(scope="module")
def zero_snr_family(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ldm_core.family import build_random_family

    return build_random_family(
        tmp_path_factory.mktemp("zero_snr"),
        task_schedulers={task: zero_snr_scheduler() for task in TASKS},
        guidance_rescale={"text2img": 0.7, "semantic": 0.7},
    )


@pytest.fixture(scope="module")
def zero_snr_engine(make_engine, zero_snr_family: Path):
    return make_engine(model_root=zero_snr_family)


def request_for(task: str, scheduler: str):
    common = {"num_inference_steps": 3, "seed": 5, "scheduler": scheduler}
    if task == "text2img":
        return TextToImageRequest(prompt="a tree by the sea", width=64, height=48, **common)
    if task == "semantic":
        return SemanticMapRequest(color_map=two_class_map(64, 48), guidance_scale=2.0, **common)
    if task == "inpaint":
        return InpaintRequest(
            image=noise_image(64, 48), mask=box_mask(64, 48, (8, 8, 40, 32)), prompt="a house", **common
        )
    return UpscaleRequest(image=noise_image(24, 16), strength=1.0, **common)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("scheduler", sorted(SAMPLERS))
def test_every_sampler_carries_the_zero_snr_schedule_and_stays_finite(zero_snr_engine, task, scheduler):
    loaded = zero_snr_engine.load(task)
    vae = getattr(loaded.pipe, "vae", None) or loaded.pipe.vqvae
    decoded = []
    hook = vae.post_quant_conv.register_forward_pre_hook(lambda _m, args: decoded.append(args[0].detach().clone()))
    try:
        result = zero_snr_engine.run(request_for(task, scheduler))
    finally:
        hook.remove()
    sampler = loaded.pipe.scheduler
    for key, value in ZERO_SNR.items():
        assert sampler.config[key] == value, (type(sampler).__name__, key)
    assert int(sampler.timesteps[0]) == 999  # trailing: sampling starts where the training noise is pure noise
    assert decoded and all(torch.isfinite(latents).all() for latents in decoded)
    image = pixels(result.images[0])
    assert np.isfinite(image).all() and image.std() > 0
    assert loaded.scheduler_config["prediction_type"] == "v_prediction"  # the model's own schedule is untouched


def test_the_family_asks_for_rescaled_guidance_and_the_pipelines_apply_it(zero_snr_engine, make_engine, tmp_path):
    from ldm_core.family import build_random_family

    plain = make_engine(
        model_root=build_random_family(tmp_path, task_schedulers={task: zero_snr_scheduler() for task in TASKS})
    )
    for task in ("text2img", "semantic"):
        assert zero_snr_engine.load(task).guidance_rescale == 0.7 and plain.load(task).guidance_rescale == 0.0
        rescaled = zero_snr_engine.run(request_for(task, "ddim"))
        unrescaled = plain.run(request_for(task, "ddim"))
        assert parse_infotext(rescaled.infotexts[0])["CFG rescale"] == 0.7
        assert "CFG rescale" not in parse_infotext(unrescaled.infotexts[0])
        assert np.abs(pixels(rescaled.images[0]) - pixels(unrescaled.images[0])).max() > 0


def test_a_family_without_its_own_schedule_keeps_the_shared_one(engine):
    loaded = engine.load("text2img")
    assert loaded.guidance_rescale == 0.0
    assert loaded.scheduler_config["prediction_type"] == "epsilon"
    assert not loaded.scheduler_config["rescale_betas_zero_snr"]


def test_image_to_image_samples_the_text_unet_with_the_text_unets_own_schedule(make_engine, tmp_path):
    """The schedule belongs to the UNet: a family that gives text-to-image its own zero-SNR schedule gives it to
    image-to-image too, which runs the same UNet."""
    from ldm_core.family import build_random_family
    from ldm_core.tasks.img2img import ImageToImageRequest

    family = build_random_family(tmp_path, task_schedulers={"text2img": zero_snr_scheduler()})
    engine = make_engine(model_root=family)
    assert engine.load("img2img").scheduler_config["prediction_type"] == "v_prediction"
    assert engine.load("inpaint").scheduler_config["prediction_type"] == "epsilon"  # its own UNet, the shared schedule
    request = ImageToImageRequest(image=noise_image(64, 48), prompt="a house", strength=0.5, num_inference_steps=4)
    assert np.isfinite(pixels(engine.run(request).images[0])).all()
