"""Smaller hardening: named errors for a lone surrogate, huge numbers, half-pixel widths and malformed editor parts;
messages quote only an excerpt; only the accepted image formats decode; EXIF orientation applied to every input;
colour maps reduced before palette snapping."""

from __future__ import annotations

import io
import tracemalloc

import gradio as gr
import numpy as np
import pytest
from engine_helpers import box_mask, two_class_map
from PIL import Image

from ldm_core.errors import InvalidRequestError
from ldm_core.limits import Limits
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest
from ldm_core.validation import ACCEPTED_FORMATS, apply_decoder_limit, check_request
from ui.editor import editor_composite
from ui.inputs import _check_number, excerpt
from ui.send_to import READERS


def test_a_lone_surrogate_in_a_prompt_is_named():
    with pytest.raises(InvalidRequestError, match="prompt: must be valid Unicode"):
        check_request(TextToImageRequest(prompt="a house \ud800 by the sea"))


def test_half_a_pixel_is_not_native_size():
    slider = gr.Slider(0, 1024, step=8)
    with pytest.raises(InvalidRequestError, match="width: must be a whole number"):
        _check_number("width", slider, 0.5)
    _check_number("width", slider, 512)
    _check_number("guidance_scale", gr.Slider(1, 20, step=0.5), 7.5)


def test_messages_quote_only_an_excerpt():
    shown = excerpt("x" * 1_000_000)
    assert len(shown) < 400 and "1,000,000 characters" in shown


@pytest.mark.parametrize("value", ["1e999", "9" * 5000, 10**40, float("nan"), "-inf"])
def test_huge_numbers_from_png_info_are_not_sent(value):
    readers = [reader for name, reader in READERS.items() if name in ("num_inference_steps", "seed", "width")]
    for reader in readers:
        assert reader({"steps": value, "seed": value, "width": value, "size": f"{value}x64"}) is None


def test_malformed_editor_parts_are_named():
    with pytest.raises(gr.Error, match="image"):
        editor_composite({"background": {"not": "an image"}, "layers": []}, (0, 0, 0))
    with pytest.raises(gr.Error, match="image"):
        editor_composite({"background": "/no/such/file.png", "layers": []}, (0, 0, 0))


def test_only_accepted_formats_decode():
    apply_decoder_limit(Limits())
    assert set(Image.OPEN) <= ACCEPTED_FORMATS and "EPS" not in Image.OPEN
    eps = io.BytesIO(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n")
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(eps)
    png = io.BytesIO()
    Image.new("RGB", (16, 16)).save(png, format="PNG")
    assert Image.open(png).size == (16, 16)


def _rotated_photo(width: int, height: int) -> Image.Image:
    """A JPEG stored sideways with EXIF orientation 6 (display rotated 90 degrees clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    stream = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(stream, format="JPEG", exif=exif)
    return Image.open(io.BytesIO(stream.getvalue()))


def test_exif_orientation_is_applied_to_inpainting_inputs():
    photo = _rotated_photo(96, 64)  # seen upright as 64 wide, 96 high
    mask = box_mask(64, 96, (8, 8, 40, 40))  # painted on what the browser showed
    inputs = check_request(InpaintRequest(image=photo, mask=mask))
    assert inputs.image.size == (64, 96) and inputs.mask.size == (64, 96)


def test_a_big_colour_map_is_reduced_before_snapping():
    huge = two_class_map(4096, 4096)
    tracemalloc.start()
    inputs = check_request(SemanticMapRequest(color_map=huge), Limits(max_pixels=2**40))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert inputs.label_map.shape == (1024, 1024)
    assert np.unique(inputs.label_map).tolist() == [0, 2]  # sky and grass, exactly
    assert peak < 400 * 2**20  # the full-size snap needed gigabytes
