"""Pictures at the size asked for: semantic maps at their own size (convolutional sampling) up to a limit."""

from __future__ import annotations

import pytest
from engine_helpers import STEPS, two_class_map

from ldm_core.errors import InvalidRequestError
from ldm_core.infotext import parse_infotext
from ldm_core.limits import Limits
from ldm_core.requests import SemanticMapRequest
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
