"""Outpainting: the canvas grows by the asked pixels, the picture's own pixels come back unchanged, the new band is
painted window by window (most context first) and bad extensions are named errors."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import STEPS, box_mask, noise_image

from ldm_core.errors import InvalidRequestError
from ldm_core.infotext import parse_infotext
from ldm_core.outpaint import Window, band_ramp, extend_canvas, next_window, sides_for_target, window_grid
from ldm_core.requests import InpaintRequest
from ldm_core.validation import check_request


def outpaint(image, **fields) -> InpaintRequest:
    return InpaintRequest(image=image, prompt="a tree", num_inference_steps=STEPS, seed=5, **fields)


@pytest.mark.parametrize(
    ("size", "sides"),
    [
        ((64, 48), {"extend_right": 32}),  # one window (the canvas fits the model's 128 px)
        ((96, 80), {"extend_left": 40, "extend_top": 24, "extend_right": 40, "extend_bottom": 48}),  # windows
    ],
)
def test_canvas_grows_and_the_picture_is_unchanged(engine, size, sides):
    image = noise_image(*size, seed=1)
    result = engine.run(outpaint(image, **sides))
    left, top = sides.get("extend_left", 0), sides.get("extend_top", 0)
    width = size[0] + left + sides.get("extend_right", 0)
    height = size[1] + top + sides.get("extend_bottom", 0)
    out = np.asarray(result.images[0])
    assert out.shape == (height, width, 3)
    assert np.array_equal(out[top : top + size[1], left : left + size[0]], np.asarray(image))
    canvas = extend_canvas(image, tuple(sides.get(f"extend_{s}", 0) for s in ("left", "top", "right", "bottom")))
    assert np.abs(out.astype(int) - canvas.pixels.astype(int))[canvas.band].mean() > 1  # the band was painted
    info = parse_infotext(result.infotexts[0])
    assert info["Size"] == f"{width}x{height}" and info["Outpaint"].startswith("left")


def test_same_seed_same_outpainting(engine):
    image = noise_image(64, 64, seed=2)
    first, second = (engine.run(outpaint(image, extend_bottom=24)).images[0] for _ in range(2))
    assert np.array_equal(np.asarray(first), np.asarray(second))


def test_a_painted_mask_is_inpainted_together_with_the_band(engine):
    image = noise_image(64, 64, seed=3)
    mask = box_mask(64, 64, (8, 8, 24, 24))
    out = np.asarray(engine.run(outpaint(image, mask=mask, mask_blur=0, extend_right=16)).images[0])
    assert not np.array_equal(out[8:24, 8:24], np.asarray(image)[8:24, 8:24])
    assert np.array_equal(out[32:, :64], np.asarray(image)[32:])  # away from the mask and the band: unchanged


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({}, "mask", "paint the area to repaint, or extend"),
        ({"extend_left": -8}, "extend_left", "between 0 and"),
        ({"extend_left": 4000}, "extend", "at most 4096"),
        ({"extend_top": 1.5}, "extend_top", "integer"),
    ],
)
def test_bad_extensions_are_named(fields, field, rule):
    with pytest.raises(InvalidRequestError) as caught:
        check_request(outpaint(noise_image(200, 32), **fields))
    assert caught.value.field == field and rule in str(caught.value)


def test_an_empty_mask_is_fine_when_extending():
    empty = box_mask(32, 32, (0, 0, 0, 0))
    assert check_request(outpaint(noise_image(32, 32), mask=empty, extend_top=8)).mask is None


def test_prefill_copies_the_edge_and_the_seam_ramp_stays_in_the_band():
    image = noise_image(16, 16, seed=4)
    canvas = extend_canvas(image, (0, 0, 8, 0), blur=0)
    assert np.array_equal(canvas.pixels[:, 16:], np.repeat(np.asarray(image)[:, 15:16], 8, axis=1))
    ramp = band_ramp(canvas, feather=4)
    assert (ramp[:, :16] == 0).all() and ramp[0, 16] == pytest.approx(0.2) and (ramp[:, 20:] == 1).all()


def test_windows_cover_the_canvas_and_context_goes_first():
    windows = window_grid((96, 320), tile=128, overlap=32, multiple=8)
    covered = np.zeros((96, 320), bool)
    for window in windows:
        assert window.width == 128 and window.height == 96
        covered[window.slices] = True
    assert covered.all()
    unpainted = np.zeros((96, 320), bool)
    unpainted[:, 200:] = True  # a band on the right: the window touching the picture most goes first
    assert [w.left for w in windows] == [0, 96, 192]
    assert next_window(windows, unpainted) == Window(96, 0, 128, 96)  # 104 of 128 columns known, vs 8 of 128
    unpainted[:, 96:224] = False
    assert next_window(windows, unpainted) == Window(192, 0, 128, 96)
    unpainted[:, 192:] = False
    assert next_window(windows, unpainted) is None


def test_target_size_becomes_sides():
    assert sides_for_target((100, 80), (160, 80)) == (30, 0, 30, 0)
    assert sides_for_target((100, 80), (161, 100), "top-left") == (0, 0, 61, 20)
    assert sides_for_target((100, 80), (100, 120), "bottom") == (0, 40, 0, 0)
    with pytest.raises(ValueError, match="smaller than the picture"):
        sides_for_target((100, 80), (90, 80))
