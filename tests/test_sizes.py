"""Pictures at the size asked for: semantic maps at their own size (convolutional sampling) up to a limit, and the
x4 cascade after text-to-image and semantic synthesis in the same request."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import STEPS, two_class_map
from PIL import Image

from ldm_core.errors import InvalidRequestError
from ldm_core.infotext import parse_infotext, read_png_infotext
from ldm_core.limits import Limits
from ldm_core.requests import SemanticMapRequest, TextToImageRequest
from ldm_core.tasks.common import cap_size
from ldm_core.validation import check_request


def semantic(width: int, height: int, **fields) -> SemanticMapRequest:
    return SemanticMapRequest(color_map=two_class_map(width, height), num_inference_steps=STEPS, seed=2, **fields)


@pytest.mark.parametrize(
    ("map_size", "output_size", "expected"),
    [
        ((256, 192), "map", (256, 192)),  # the map's own size, twice the tiny family's 128 px
        ((512, 384), "map", (256, 192)),  # scaled down to Limits.max_semantic_side
        ((512, 384), "model", (128, 96)),  # fitted to the model's size
        ((100, 60), "map", (96, 64)),  # snapped to the UNet's multiple of 16
    ],
)
def test_semantic_output_size(engine, map_size, output_size, expected):
    result = engine.run(semantic(*map_size, output_size=output_size))
    assert result.images[0].size == expected
    info = parse_infotext(result.infotexts[0])
    assert info["Size"] == f"{expected[0]}x{expected[1]}" and info["Output size"] == output_size
    capped = any("largest semantic size" in warning for warning in result.warnings)
    assert capped == (output_size == "map" and map_size[0] > 256)


def test_semantic_limit_comes_from_limits(make_engine, family_root):
    engine = make_engine(model_root=family_root, limits=Limits(max_semantic_side=160))
    assert engine.run(semantic(512, 384)).images[0].size == (160, 128)
    small = make_engine(model_root=family_root, limits=Limits(max_semantic_side=64))
    assert small.run(semantic(512, 384)).images[0].size == (128, 96)  # never below the model's own size


def test_output_size_is_checked_and_sizes_stay_within_the_cap():
    assert cap_size(1000, 10, 256, 16) == (256, 16)
    assert cap_size(250, 250, 250, 16) == (240, 240)  # rounding never passes the cap
    with pytest.raises(InvalidRequestError, match="output_size.*map, model"):
        check_request(semantic(64, 64, output_size="huge"))


def test_far_from_trained_size_is_reported(engine):
    result = engine.run(semantic(48, 32))
    assert any("far from the 128x128" in warning for warning in result.warnings)


def text(**fields) -> TextToImageRequest:
    return TextToImageRequest(**({"prompt": "a tree", "num_inference_steps": STEPS, "seed": 4} | fields))


def test_text_to_image_cascade_upscales_in_the_same_request(engine):
    plain = engine.run(text(width=64, height=48, batch_size=2))
    result = engine.run(text(width=64, height=48, batch_size=2, upscale_x4=True, upscale_steps=3))
    assert [image.size for image in result.images] == [(256, 192), (256, 192)]
    info = parse_infotext(result.infotexts[1])
    assert info["Size"] == "64x48" and info["Seed"] == 5  # A1111: Size is the first pass
    assert (info["Hires upscale"], info["Hires upscaler"], info["Hires steps"]) == (4, "builtin", 3)
    assert info["Denoising strength"] == 1
    assert read_png_infotext(result.saved_paths[1]) == result.infotexts[1]
    # the x4 pass starts from the first pass: its picture, shrunk back, is close to the first pass's
    for small, big in zip(plain.images, result.images, strict=True):
        shrunk = np.asarray(big.resize(small.size, Image.Resampling.BOX)).astype(int)
        assert np.abs(shrunk - np.asarray(small).astype(int)).mean() < 40


def test_semantic_cascade(engine):
    result = engine.run(semantic(64, 64, upscale_x4=True, upscale_steps=2))
    assert result.images[0].size == (256, 256) and "Hires upscale: 4" in result.infotexts[0]


@pytest.mark.parametrize(
    ("request_", "field", "rule"),
    [
        (text(width=1032, height=64, upscale_x4=True), "upscale_x4", "at most 1024"),
        (text(upscale_x4=True, upscale_steps=0), "upscale_steps", "between 1 and"),
        (text(upscale_x4="yes"), "upscale_x4", "True or False"),
    ],
)
def test_cascade_options_are_checked(request_, field, rule):
    with pytest.raises(InvalidRequestError) as caught:
        check_request(request_)
    assert caught.value.field == field and rule in str(caught.value)
