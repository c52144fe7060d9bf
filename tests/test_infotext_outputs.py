"""A1111-style infotext round trip, and saved files: atomic, unique, and a failed save still returns the image."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import STEPS, noise_image

from ldm_core.infotext import format_infotext, parse_infotext, read_png_infotext
from ldm_core.outputs import save_png
from ldm_core.requests import TextToImageRequest

PARAMS = {
    "Steps": 20,
    "Sampler": "DPM++ 2M",
    "CFG scale": 7.5,
    "Seed": 123,
    "Size": "128x128",
    "Model": "builtin",
    "Task": "inpaint",
    "Denoising strength": 0.75,
    "Mask blur": 4,
    "Note": 'commas, colons: and "quotes"',
}


@pytest.mark.parametrize("negative", ["", "blurry, low quality"])
def test_round_trip(negative):
    prompt = "a house by the sea, at dusk\nsecond line: with a colon"
    parsed = parse_infotext(format_infotext(prompt, negative, PARAMS))
    assert parsed == {"Prompt": prompt, "Negative prompt": negative, **PARAMS}


def test_layout_is_a1111s():
    text = format_infotext("a tree", "fog", {"Steps": 20, "Sampler": "DDIM", "CFG scale": 7.0, "Seed": 1})
    assert text == "a tree\nNegative prompt: fog\nSteps: 20, Sampler: DDIM, CFG scale: 7, Seed: 1"


def test_reads_an_a1111_file():
    text = (
        "masterpiece, a castle\nNegative prompt: lowres\n"
        "Steps: 30, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x768, "
        'Model hash: abc123, Lora hashes: "x: 1, y: 2"'
    )
    parsed = parse_infotext(text)
    assert parsed["Prompt"] == "masterpiece, a castle" and parsed["Negative prompt"] == "lowres"
    assert parsed["Steps"] == 30 and parsed["Sampler"] == "Euler a" and parsed["Size"] == "512x768"
    assert parsed["Lora hashes"] == "x: 1, y: 2"


def test_a_prompt_without_parameters_stays_a_prompt():
    assert parse_infotext("just a prompt") == {"Prompt": "just a prompt", "Negative prompt": ""}


def test_saved_png_carries_the_infotext(tmp_path):
    path = save_png(noise_image(16, 16), tmp_path, 5, "a tree\nSteps: 2, Sampler: DDIM, Seed: 5")
    assert path.name == "00001-5.png"
    assert read_png_infotext(path) == "a tree\nSteps: 2, Sampler: DDIM, Seed: 5"
    assert read_png_infotext(noise_image(16, 16)) is None


def test_saving_never_overwrites(tmp_path):
    first = save_png(noise_image(16, 16, seed=1), tmp_path, 5, "one")
    second = save_png(noise_image(16, 16, seed=2), tmp_path, 5, "two")
    (tmp_path / "00009-5.png").write_bytes(b"someone else's file")
    third = save_png(noise_image(16, 16, seed=3), tmp_path, 5, "three")
    assert [path.name for path in (first, second, third)] == ["00001-5.png", "00002-5.png", "00010-5.png"]
    assert read_png_infotext(first) == "one" and (tmp_path / "00009-5.png").read_bytes() == b"someone else's file"
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "00001-5.png",
        "00002-5.png",
        "00009-5.png",
        "00010-5.png",
    ]


def test_unwritable_outputs_still_return_the_image(make_engine, family_root, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outputs folder should be")
    engine = make_engine(model_root=family_root, outputs_dir=blocker)
    result = engine.run(TextToImageRequest(prompt="a tree", width=32, height=32, num_inference_steps=STEPS, seed=1))
    assert len(result.images) == 1 and result.saved_paths == []
    assert any("could not save" in warning for warning in result.warnings)


def test_save_outputs_false_writes_nothing(make_engine, family_root):
    engine = make_engine(model_root=family_root, save_outputs=False)
    result = engine.run(TextToImageRequest(prompt="a tree", width=32, height=32, num_inference_steps=STEPS, seed=1))
    assert result.saved_paths == [] and not any(Path(engine.config.outputs_dir).rglob("*.png"))
