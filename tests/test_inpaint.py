"""Inpainting keeps every pixel outside the (blurred) mask exactly; full masks, inverted masks and "only masked"."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import STEPS, box_mask, noise_image, pixels
from PIL import Image

from ldm_core.requests import InpaintRequest
from ldm_core.tasks.inpaint import blur_mask, mask_region


def run(engine, image, mask, **fields):
    request = InpaintRequest(image=image, mask=mask, num_inference_steps=STEPS, seed=3, prompt="a house", **fields)
    return engine.run(request)


@pytest.mark.parametrize(("only_masked", "blur"), [(False, 0), (False, 4), (True, 4), (True, 0)])
def test_pixels_outside_the_blurred_mask_are_unchanged(engine, only_masked, blur):
    image, mask = noise_image(200, 160, seed=1), box_mask(200, 160, (120, 90, 150, 130))
    result = run(engine, image, mask, only_masked=only_masked, mask_blur=blur, only_masked_padding=16)
    assert result.images[0].size == image.size
    outside = np.asarray(blur_mask(mask, blur)) == 0
    before, after = pixels(image), pixels(result.images[0])
    np.testing.assert_array_equal(after[outside], before[outside])
    inside = np.asarray(mask) == 255
    assert np.abs(after[inside] - before[inside]).mean() > 1  # and the masked area was repainted


def test_only_masked_runs_at_model_size_around_the_mask(engine):
    image, mask = noise_image(400, 300, seed=2), box_mask(400, 300, (300, 200, 340, 240))
    result = run(engine, image, mask, only_masked=True, only_masked_padding=20, mask_blur=0)
    assert mask_region(mask, 20) == (280, 180, 360, 260)
    assert "Size: 128x128" in result.infotexts[0] and "Inpaint area: Only masked" in result.infotexts[0]


def test_full_mask_repaints_everything(engine):
    image = noise_image(64, 64)
    result = run(engine, image, Image.new("L", (64, 64), 255), mask_blur=0)
    assert result.images[0].size == (64, 64)
    assert (pixels(result.images[0]) != pixels(image)).any(axis=-1).mean() > 0.9


def test_inverted_mask_keeps_the_painted_area(engine):
    image, mask = noise_image(64, 64), box_mask(64, 64, (16, 16, 48, 48))
    result = run(engine, image, mask, invert_mask=True, mask_blur=0)
    np.testing.assert_array_equal(pixels(result.images[0])[16:48, 16:48], pixels(image)[16:48, 16:48])
    assert "Mask mode: Inpaint not masked" in result.infotexts[0]


def test_partial_strength_runs_fewer_steps(engine):
    events = []
    image, mask = noise_image(64, 64), box_mask(64, 64, (8, 8, 40, 40))
    request = InpaintRequest(image=image, mask=mask, num_inference_steps=4, strength=0.5, seed=1)
    result = engine.run(request, progress=events.append)
    assert events[-1].total_steps == 2
    assert "Denoising strength: 0.5" in result.infotexts[0]
