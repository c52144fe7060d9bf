"""Bad requests fail fast with InvalidRequestError naming field, value and rule; odd images are converted."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import STEPS, box_mask, noise_image, two_class_map
from PIL import Image

from ldm_core.errors import InvalidRequestError
from ldm_core.palette import CLASS_ID, PALETTE
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest
from ldm_core.validation import check_request, to_mask, to_rgb


def text(**fields):
    return TextToImageRequest(**({"prompt": "a tree", "num_inference_steps": STEPS, "seed": 1} | fields))


def inpaint(**fields):
    defaults = {"image": noise_image(64, 64), "mask": box_mask(64, 64, (8, 8, 24, 24)), "num_inference_steps": STEPS}
    return InpaintRequest(**(defaults | fields))


BAD_REQUESTS = [
    (text(width=500), "width", "multiple of 8"),
    (text(height=8), "height", "between 32 and 2048"),
    (text(width=64.0), "width", "integer"),
    (text(num_inference_steps=0), "num_inference_steps", "between 1 and 150"),
    (text(num_inference_steps=151), "num_inference_steps", "between 1 and 150"),
    (text(num_inference_steps=True), "num_inference_steps", "integer"),
    (text(guidance_scale=31), "guidance_scale", "between 0 and 30"),
    (text(guidance_scale=float("nan")), "guidance_scale", "between 0 and 30"),
    (text(guidance_scale="7"), "guidance_scale", "number"),
    (text(batch_size=9), "batch_size", "between 1 and 8"),
    (text(seed=-2), "seed", "between 0"),
    (text(seed=2**32), "seed", "between 0"),
    (text(scheduler="plms"), "scheduler", "ddim"),
    (text(prompt="x" * 2001), "prompt", "at most 2000 characters"),
    (text(prompt=None), "prompt", "text"),
    (inpaint(mask=Image.new("L", (64, 64), 0)), "mask", "at least one pixel"),
    (inpaint(mask=Image.new("L", (64, 64), 255), invert_mask=True), "mask", "at least one pixel"),
    (inpaint(mask=box_mask(32, 32, (0, 0, 8, 8))), "mask", "image's size 64x64"),
    (inpaint(strength=0.0), "strength", "at least 1"),
    (inpaint(strength=1.5), "strength", "between 0 and 1"),
    (inpaint(mask_blur=-1), "mask_blur", "between 0 and 64"),
    (inpaint(image=Image.new("RGB", (1, 1))), "image", "at least 16 pixels"),
    (inpaint(image=np.zeros((64, 64, 3))), "image", "PIL image"),
    (UpscaleRequest(image=Image.new("RGB", (2048, 64))), "image", "at most 1024 pixels"),
    (UpscaleRequest(image=noise_image(32, 32), tile_size=20), "tile_size", "multiple of 8"),
    (UpscaleRequest(image=noise_image(32, 32), tile_overlap=200), "tile_overlap", "between 0 and 128"),
    (SemanticMapRequest(color_map=Image.new("RGB", (64, 64), (1, 2, 3))), "color_map", "palette"),
]


@pytest.mark.parametrize(
    ("request_", "field", "rule"), BAD_REQUESTS, ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(BAD_REQUESTS)]
)
def test_bad_input_names_field_value_and_rule(engine, request_, field, rule):
    with pytest.raises(InvalidRequestError) as caught:
        engine.run(request_)
    assert caught.value.field == field
    assert rule in str(caught.value)
    assert str(caught.value).startswith(f"{field}: ")


def test_width_message_reads_like_a_sentence():
    with pytest.raises(InvalidRequestError, match=r"width: must be a multiple of 8 \(got 500\)"):
        check_request(text(width=500))


def test_unknown_request_type_is_refused(engine):
    with pytest.raises(InvalidRequestError):
        engine.run("draw me a sheep")


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "1", "CMYK", "I;16", "I", "F"])
def test_any_image_mode_is_converted_to_rgb(mode):
    image = noise_image(32, 24).convert(mode) if mode not in ("I;16", "I", "F") else None
    if mode == "I;16":
        image = Image.fromarray(np.full((24, 32), 65535, dtype=np.uint16))
    elif mode in ("I", "F"):
        values = np.full((24, 32), 65535 if mode == "I" else 1.0)
        image = Image.fromarray(values.astype(np.int32 if mode == "I" else np.float32))
    converted = to_rgb("image", image, 4096)
    assert converted.mode == "RGB" and converted.size == (32, 24)
    if mode in ("I;16", "I", "F"):
        assert np.asarray(converted).min() == 255  # the full range maps to white, not a clipped mess


def test_transparent_editor_layer_is_a_mask_where_alpha_is_set():
    layer = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    layer.paste((200, 30, 30, 255), (4, 4, 12, 12))
    mask = np.asarray(to_mask("mask", layer, (32, 32), invert=False))
    assert mask[4:12, 4:12].min() == 255 and mask.sum() == 64 * 255


def test_sixteen_bit_mask_is_scaled_not_clipped():
    values = np.zeros((32, 32), dtype=np.uint16)
    values[:, :16] = 65535
    values[:, 16:] = 100  # dark: 100/65535, not "100 > 0 so white"
    mask = np.asarray(to_mask("mask", Image.fromarray(values), (32, 32), invert=False))
    assert mask[:, :16].min() == 255 and mask[:, 16:].max() == 0


def test_snapped_map_warns_when_many_pixels_are_off_palette(engine):
    colors = np.asarray(two_class_map(64, 64)).copy()
    colors[:, :16] = PALETTE[CLASS_ID["sea"]] + 3  # near sea, but not exact
    result = engine.run(SemanticMapRequest(color_map=Image.fromarray(colors), num_inference_steps=STEPS, seed=1))
    assert any("25%" in warning and "palette" in warning for warning in result.warnings)


def test_clean_map_has_no_warning(engine):
    result = engine.run(SemanticMapRequest(color_map=two_class_map(64, 64), num_inference_steps=STEPS, seed=1))
    assert result.warnings == []


def test_snap_assigns_near_colours_to_their_class():
    from ldm_core.palette import snap_to_palette

    colors = np.asarray(two_class_map(8, 8)).copy()
    colors[0, 0] = PALETTE[CLASS_ID["house"]] - 2
    snapped = snap_to_palette(colors)
    assert snapped.label_map[0, 0] == CLASS_ID["house"]
    assert snapped.label_map[7, 7] == CLASS_ID["grass"]
    assert snapped.off_palette_fraction == pytest.approx(1 / 64)


def test_the_request_module_lists_exactly_the_engines_samplers():
    from ldm_core.requests import SCHEDULERS
    from ldm_core.schedulers import SAMPLERS

    assert tuple(SAMPLERS) == SCHEDULERS
