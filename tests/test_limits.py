"""Per-request limits from EngineConfig, decompression bombs and corrupt files as named errors, and a full disk
(ENOSPC, injected) that still returns the image, says it was not saved and leaves no partial file."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import pytest
from engine_helpers import STEPS, noise_image
from PIL import Image

from ldm_core.errors import InvalidRequestError
from ldm_core.limits import Limits
from ldm_core.requests import TextToImageRequest, UpscaleRequest
from ldm_core.validation import check_request, image_file_error


def text(**fields) -> TextToImageRequest:
    return TextToImageRequest(**({"prompt": "a tree", "num_inference_steps": STEPS, "seed": 1} | fields))


@pytest.mark.parametrize(
    ("request_", "field", "rule"),
    [
        (text(num_inference_steps=11), "num_inference_steps", "between 1 and 10"),
        (text(batch_size=3), "batch_size", "between 1 and 2"),
        (text(prompt="x" * 21), "prompt", "at most 20 characters"),
        (text(width=256, height=256), "width", "between 32 and 248"),
        (text(width=128, height=128, batch_size=2), "width", "output pixels"),
        (UpscaleRequest(image=noise_image(48, 16), num_inference_steps=STEPS), "image", "at most 32 pixels"),
    ],
)
def test_configured_limits_are_enforced_by_name(request_, field, rule):
    limits = Limits(
        max_steps=10, max_batch=2, max_prompt_chars=20, max_size=248, max_pixels=128 * 128, max_upscale_side=32
    )
    with pytest.raises(InvalidRequestError) as caught:
        check_request(request_, limits)
    assert caught.value.field == field and rule in str(caught.value)


def test_defaults_allow_what_the_ui_offers():
    check_request(text(width=1024, height=1024, batch_size=8, num_inference_steps=150))


def test_limits_must_be_positive_integers():
    with pytest.raises(ValueError, match="max_steps"):
        Limits(max_steps=0)


def test_engine_applies_its_limits_and_pillows_bomb_threshold(make_engine, family_root):
    engine = make_engine(model_root=family_root, limits=Limits(max_steps=3, max_image_side=512))
    try:
        assert Image.MAX_IMAGE_PIXELS == 512 * 512
        with pytest.raises(InvalidRequestError, match="num_inference_steps: must be between 1 and 3"):
            engine.run(text(num_inference_steps=4))
        bomb = io.BytesIO()
        Image.new("1", (2000, 2000)).save(bomb, format="PNG")  # 4 M pixels > 2 x 512^2: refused before decoding
        with pytest.raises(Image.DecompressionBombError) as caught:
            Image.open(io.BytesIO(bomb.getvalue()))
        error = image_file_error("image", caught.value, engine.config.limits)
        assert str(error).startswith("image: must have at most 262,144 pixels (512x512); downscale")
    finally:
        make_engine(model_root=family_root)  # back to the default threshold for the other tests
    assert Image.MAX_IMAGE_PIXELS == Limits().max_image_pixels


def test_a_truncated_file_is_a_named_error_not_a_crash_mid_run(engine):
    buffer = io.BytesIO()
    noise_image(32, 32).save(buffer, format="PNG")
    lazy = Image.open(io.BytesIO(buffer.getvalue()[: buffer.tell() // 2]))  # the header is fine, the pixels stop
    with pytest.raises(InvalidRequestError, match=r"^image: must be a complete PNG, JPEG or WebP file"):
        engine.run(UpscaleRequest(image=lazy, num_inference_steps=STEPS))


def test_a_full_disk_still_returns_the_image_and_leaves_no_partial_file(engine, monkeypatch):
    def files() -> set[Path]:
        return {path for path in Path(engine.config.outputs_dir).rglob("*") if path.is_file()}

    before = files()

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("ldm_core.outputs.os.fsync", disk_full)
    result = engine.run(text(width=32, height=32, batch_size=2))
    assert len(result.images) == 2 and result.saved_paths == []
    assert any("No space left on device" in warning and "not saved" in warning for warning in result.warnings)
    assert files() == before
    monkeypatch.undo()
    assert len(engine.run(text(width=32, height=32)).saved_paths) == 1  # space is back: saving works again
