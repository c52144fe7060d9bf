"""The new ways to make a picture through the HTTP API (gradio_client): image-to-image, outpainting, sizes people
understand, the x4 cascade (on by default in the tabs), prompt emphasis; and PNG info reading their keys back."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image
from ui_fixtures import TINY_STEPS, studio_url, ui_model_root  # noqa: F401 (fixtures)

from ldm_core.infotext import parse_infotext

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NATIVE = 128  # the built-in family's size (the tiny one's too)


@pytest.fixture(scope="module")
def client(studio_url: str) -> Client:  # noqa: F811
    return Client(studio_url, verbose=False)


def first_image(gallery: list[dict]) -> Image.Image:
    return Image.open(gallery[0]["image"])


def test_text2img_cascade_is_on_by_default_and_writes_a1111_keys(client: Client):
    gallery, _, infotext = client.predict(prompt="a (tree:1.3)", steps=TINY_STEPS, seed=2, api_name="/text2img")
    assert first_image(gallery).size == (4 * NATIVE, 4 * NATIVE)
    info = parse_infotext(infotext)
    assert info["Prompt"] == "a (tree:1.3)" and info["Size"] == "128x128"
    assert (info["Hires upscale"], info["Hires upscaler"], info["Hires steps"]) == (4, "builtin", 15)


def test_text2img_size_choices(client: Client):
    common = {"prompt": "sky", "steps": TINY_STEPS, "seed": 1, "upscale_x4": False, "api_name": "/text2img"}
    gallery, _, _ = client.predict(size="2× the model's size", **common)
    assert first_image(gallery).size == (2 * NATIVE, 2 * NATIVE)
    gallery, _, _ = client.predict(size="Custom", width=96, height=64, **common)
    assert first_image(gallery).size == (96, 64)
    with pytest.raises(Exception, match="width"):
        client.predict(size="Custom", **common)


def test_semantic_output_size_choices(client: Client):
    color_map = handle_file(str(EXAMPLES / "semantic" / "lake_mountains.png"))  # 256 x 256
    common = {
        "semantic_map": {"background": color_map, "layers": [], "composite": None},
        "steps": TINY_STEPS,
        "seed": 3,
        "upscale_x4": False,
        "api_name": "/semantic",
    }
    gallery, _, infotext = client.predict(output_size="Map's own size", **common)
    assert first_image(gallery).size == (256, 256) and "Size: 256x256" in infotext
    gallery, _, infotext = client.predict(output_size="Model's size", **common)
    assert first_image(gallery).size == (NATIVE, NATIVE) and "Output size: model" in infotext


def test_img2img_endpoint(client: Client):
    image = handle_file(str(EXAMPLES / "images" / "lake_mountains.png"))
    gallery, seed, infotext = client.predict(
        image=image, prompt="a lake", strength=0.5, steps=4, seed=9, upscale_x4=False, api_name="/img2img"
    )
    info = parse_infotext(infotext)
    assert first_image(gallery).size == (NATIVE, NATIVE) and seed == 9
    assert info["Task"] == "img2img" and info["Denoising strength"] == 0.5


def test_outpainting_by_sides_and_to_a_target_size(client: Client):
    image = handle_file(str(EXAMPLES / "images" / "lake_mountains_64px.png"))  # 64 x 64
    editor = {"background": image, "layers": [], "composite": None}
    common = {"image_and_mask": editor, "steps": TINY_STEPS, "seed": 4, "api_name": "/inpaint"}
    gallery, _, infotext = client.predict(extend_right=32, extend_top=16, **common)
    assert first_image(gallery).size == (96, 80) and "Outpaint:" in infotext
    gallery, _, _ = client.predict(target_width=128, target_height=64, anchor="left", **common)
    out = first_image(gallery).convert("RGB")
    assert out.size == (128, 64)
    original = Image.open(EXAMPLES / "images" / "lake_mountains_64px.png").convert("RGB")
    assert list(out.crop((0, 0, 64, 64)).getdata()) == list(original.getdata())  # the picture is unchanged
    with pytest.raises(Exception, match="target_width"):
        client.predict(target_width=32, **common)


def test_png_info_reads_the_new_keys_back():
    from ui.send_to import READERS
    from ui.tabs.png_info import normalized

    text = (
        "a (house:1.5)\nSteps: 15, Sampler: DPM++ 2M, Seed: 1, Size: 128x128, Task: text2img, Hires upscale: 4, "
        'Hires upscaler: builtin, Hires steps: 12, Denoising strength: 1, Outpaint: "left 0, top 8, right 32, '
        'bottom 0", Output size: model'
    )
    parameters = normalized(parse_infotext(text))
    assert READERS["prompt"](parameters) == "a (house:1.5)"
    assert READERS["upscale_x4"](parameters) is True and READERS["upscale_steps"](parameters) == 12
    assert READERS["size"](parameters) == "Custom" and READERS["width"](parameters) == 128
    assert READERS["extend_top"](parameters) == 8 and READERS["extend_right"](parameters) == 32
    assert READERS["output_size"](parameters) == "Model's size"
    assert READERS["upscale_x4"](normalized(parse_infotext("x\nSteps: 2, Seed: 1, Size: 8x8"))) is False
