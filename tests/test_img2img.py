"""Image-to-image (SDEdit): the picture noised to `strength` and denoised with the prompt, on the text-to-image
model's shared components; presets without a text-to-image model say why it is unavailable."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import STEPS, noise_image, pixels

from ldm_core.errors import InvalidRequestError, ModelNotAvailableError
from ldm_core.infotext import parse_infotext
from ldm_core.tasks.img2img import ImageToImageRequest
from ldm_core.validation import check_request


def img2img(**fields) -> ImageToImageRequest:
    options = {"image": noise_image(96, 64, seed=8), "prompt": "a tree", "num_inference_steps": 4, "seed": 6}
    return ImageToImageRequest(**(options | fields))


def test_img2img_at_the_model_size_with_its_strength(engine):
    result = engine.run(img2img(strength=0.5, batch_size=2))
    assert [image.size for image in result.images] == [(128, 88)] * 2  # longer side at the tiny family's 128
    info = parse_infotext(result.infotexts[0])
    assert info["Task"] == "img2img" and info["Denoising strength"] == 0.5 and info["Size"] == "128x88"
    again = engine.run(img2img(strength=0.5, batch_size=2))
    assert np.array_equal(pixels(result.images[1]), pixels(again.images[1]))


def test_lower_strength_stays_closer_to_the_picture(engine):
    source = pixels(noise_image(96, 64, seed=8).resize((128, 88)))
    distance = {
        strength: np.abs(pixels(engine.run(img2img(strength=strength)).images[0]) - source).mean()
        for strength in (0.25, 1.0)
    }
    assert distance[0.25] < distance[1.0]


def test_img2img_shares_the_text_to_image_components(engine):
    text, image = engine.load("text2img").pipe, engine.load("img2img").pipe
    assert image.unet is text.unet and image.vae is text.vae and image.text_encoder is text.text_encoder


def test_img2img_cascade(engine):
    result = engine.run(img2img(strength=0.5, upscale_x4=True, upscale_steps=2))
    info = parse_infotext(result.infotexts[0])
    assert result.images[0].size == (512, 352) and info["Hires upscale"] == 4
    assert info["Denoising strength"] == 0.5  # img2img's own strength, as A1111 writes it


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"strength": 1.5}, "strength"), ({"strength": 0.1}, "strength"), ({"image": "x.png"}, "image")],
)
def test_bad_img2img_requests_are_named(fields, field):
    with pytest.raises(InvalidRequestError) as caught:
        check_request(img2img(**fields))
    assert caught.value.field == field


def test_ldm_paper_preset_says_why_img2img_is_unavailable(make_engine, other_layouts):
    engine = make_engine(preset="ldm-paper", sources={"text2img": str(other_layouts["ldm-text"])})
    assert "not part of the ldm-paper preset" in engine.task_status()["img2img"]
    with pytest.raises(ModelNotAvailableError, match="not part of the ldm-paper preset"):
        engine.run(img2img(num_inference_steps=STEPS, strength=1.0))


def test_sd15_img2img_comes_from_the_text_to_image_pipeline(make_engine, other_layouts):
    engine = make_engine(preset="sd15", sources={"text2img": str(other_layouts["sd15"])})
    assert engine.task_status()["img2img"] is None
    result = engine.run(img2img(strength=0.75))
    assert result.images[0].size == (64, 40)  # the tiny sd15's 64 px
    assert engine.load("img2img").pipe.unet is engine.load("text2img").pipe.unet
