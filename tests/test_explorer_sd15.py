"""Every explorer section on the sd15 preset's layouts (SD's f=8, 4-channel autoencoder; the 9-channel inpainting
UNet; ControlNet-seg; the LDM x4 upscaler) and on the ldm-paper text model, with tiny random weights."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import box_mask, noise_image, two_class_map

from ldm_core.explorer.attention import attention_maps
from ldm_core.explorer.autoencoder import AutoencoderRequest, LatentEdit, inspect_autoencoder
from ldm_core.explorer.strips import make_strips
from ldm_core.explorer.trajectory import record_trajectory
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest

STEPS = 2


@pytest.fixture(scope="module")
def sd15_engine(make_engine, other_layouts):
    sources = {
        "text2img": str(other_layouts["sd15"]),
        "inpaint": str(other_layouts["sd15-inpaint"]),
        "semantic": str(other_layouts["controlnet-seg"]),
        "upscale": str(other_layouts["ldm-sr"]),
    }
    return make_engine(preset="sd15", sources=sources)


def test_sd15_autoencoder_is_f8_with_four_channels(sd15_engine):
    edit = LatentEdit(kind="swap", channel=0, other=3)
    result = inspect_autoencoder(sd15_engine, AutoencoderRequest(image=noise_image(64, 64), edit=edit))
    assert len(result.channels) == 4 and result.compression["factor"] == 8
    assert result.compression["latent_width"] == 8 and result.edited is not None
    assert "channels 0 and 3 swapped" in result.edit_note


def test_sd15_text_trajectory_ends_on_the_output(sd15_engine):
    request = TextToImageRequest(prompt="a mountain", num_inference_steps=3, seed=2, width=64, height=64)
    trajectory = record_trajectory(sd15_engine, request, every=1)
    assert len(trajectory.frames) == 4
    assert np.array_equal(np.asarray(trajectory.output), np.asarray(trajectory.result.images[0]))


@pytest.mark.parametrize(
    "request_",
    [
        InpaintRequest(image=noise_image(64, 64), mask=box_mask(64, 64, (8, 8, 40, 40)), num_inference_steps=STEPS),
        SemanticMapRequest(color_map=two_class_map(64, 64), prompt="sky", num_inference_steps=STEPS),
        UpscaleRequest(image=noise_image(32, 32), num_inference_steps=STEPS),
    ],
    ids=["inpaint", "controlnet", "upscale"],
)
def test_sd15_trajectory_of_every_tab(sd15_engine, request_):
    trajectory = record_trajectory(sd15_engine, request_, every=1)
    assert [frame.step for frame in trajectory.frames] == list(range(1, STEPS + 2))


def test_sd15_attention_and_strips(sd15_engine):
    request = TextToImageRequest(prompt="the sky", num_inference_steps=STEPS, seed=1, width=64, height=64)
    result = attention_maps(sd15_engine, request)
    assert [w.word.text for w in result.words] == ["the", "sky"] and result.calls > 0
    assert result.words[1].heat.shape == (8, 8)
    strips = make_strips(sd15_engine, request, scales=[1, 5], steps=[1], samplers=["ddim"])
    assert len(strips.guidance.cells) == 2 and len(strips.steps) == 1


def test_ldm_paper_text_model(make_engine, other_layouts):
    engine = make_engine(preset="ldm-paper", sources={"text2img": str(other_layouts["ldm-text"])})
    request = TextToImageRequest(prompt="a tree", num_inference_steps=STEPS, seed=1, width=64, height=64)
    trajectory = record_trajectory(engine, request)
    assert np.array_equal(np.asarray(trajectory.output), np.asarray(trajectory.result.images[0]))
    assert [w.word.text for w in attention_maps(engine, request).words] == ["a", "tree"]
