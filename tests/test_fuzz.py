"""Fuzzing bad input: generated requests that break exactly one rule each get the InvalidRequestError naming that
field (through the engine: 240 examples, validation only, fast), and a smaller set sent through the HTTP API comes back
as an AppError whose message names the field. Afterwards a good request is still served. Deterministic (derandomize).
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import box_mask, noise_image, two_class_map
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from ui_fixtures import TINY_STEPS, free_port

from ldm_core.errors import InvalidRequestError
from ldm_core.palette import PALETTE
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest
from ldm_core.schedulers import SAMPLERS

ENGINE_EXAMPLES = 240
API_EXAMPLES = 40
FUZZ = dict(  # noqa: C408
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# ---- bad values, one field at a time -------------------------------------------------------------------------------
not_int = st.one_of(st.floats(allow_nan=True), st.text(max_size=4), st.none(), st.booleans())
not_number = st.one_of(st.text(max_size=4), st.none(), st.booleans(), st.just(math.nan), st.just(math.inf))
not_text = st.one_of(st.integers(), st.none(), st.lists(st.text(max_size=2), max_size=2))
too_long = st.integers(2001, 4000).map(lambda n: "x" * n)
not_bool = st.one_of(st.integers(), st.text(max_size=3), st.none())

SAMPLING_BAD = {
    "num_inference_steps": st.one_of(st.integers(max_value=0), st.integers(min_value=151), not_int),
    "guidance_scale": st.one_of(
        st.floats(max_value=-1e-6), st.floats(min_value=30.001, allow_infinity=False), not_number
    ),
    "batch_size": st.one_of(st.integers(max_value=0), st.integers(min_value=9), not_int),
    "seed": st.one_of(st.integers(max_value=-2), st.integers(min_value=2**32), not_int),
    "scheduler": st.one_of(st.text(max_size=8).filter(lambda s: s not in SAMPLERS), st.integers(), st.none()),
}
SIZE_BAD = st.one_of(
    st.integers(32, 2048).filter(lambda v: v % 8),
    st.integers(max_value=31),
    st.integers(min_value=2049),
    st.floats(allow_nan=True),
    st.text(max_size=3),
)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


NOISE_PNG = _png_bytes(noise_image(32, 32, seed=9))


@st.composite
def truncated_png(draw) -> Image.Image:
    """A PNG whose header is intact but whose pixel data stops early: it opens lazily and fails to decode."""
    return Image.open(io.BytesIO(NOISE_PNG[: draw(st.integers(100, len(NOISE_PNG) // 2))]))


@st.composite
def tiny_image(draw) -> Image.Image:
    short, other = draw(st.integers(1, 15)), draw(st.integers(1, 64))
    size = (short, other) if draw(st.booleans()) else (other, short)
    return Image.new(draw(st.sampled_from(["RGB", "RGBA", "L", "P", "I;16"])), size)


def huge_side(low: int) -> st.SearchStrategy:
    """Over the side limit; mode "1" keeps even a 12,000-pixel side cheap."""
    return st.integers(low + 1, 12_000).map(lambda side: Image.new("1", (side, 16)))


def bad_image(max_side: int) -> st.SearchStrategy:
    not_an_image = st.one_of(st.none(), st.text(max_size=4), st.binary(max_size=16), st.integers())
    odd_mode = st.just(Image.new("La", (32, 32)))  # no conversion to RGB exists
    return st.one_of(tiny_image(), huge_side(max_side), truncated_png(), not_an_image, odd_mode)


@st.composite
def off_palette_map(draw) -> Image.Image:
    palette = {tuple(int(v) for v in color) for color in PALETTE}
    color = draw(st.tuples(*[st.integers(0, 255)] * 3).filter(lambda c: c not in palette))
    if draw(st.booleans()):
        return Image.new("RGBA", (32, 32), (*color, 255))
    return Image.new("RGB", (32, 32), color)


@st.composite
def empty_mask(draw) -> Image.Image:
    kind = draw(st.sampled_from(["black", "transparent", "palette-black", "sixteen-bit-dark"]))
    if kind == "black":
        return Image.new("L", (32, 32), 0)
    if kind == "transparent":  # an editor layer with nothing painted: colour but no alpha
        return Image.new("RGBA", (32, 32), (255, 43, 214, 0))
    if kind == "palette-black":
        return Image.new("P", (32, 32), 0)
    return Image.fromarray(np.full((32, 32), draw(st.integers(0, 30000)), dtype=np.uint16))


def good(task: str) -> dict:
    common = {"num_inference_steps": 2, "seed": 1}
    if task == "text2img":
        return common | {"prompt": "sky", "width": 32, "height": 32}
    if task == "semantic":
        return common | {"color_map": two_class_map(32, 32)}
    if task == "inpaint":
        return common | {"image": noise_image(32, 32), "mask": box_mask(32, 32, (8, 8, 24, 24))}
    return common | {"image": noise_image(16, 16)}


REQUEST_TYPES = {
    "text2img": TextToImageRequest,
    "semantic": SemanticMapRequest,
    "inpaint": InpaintRequest,
    "upscale": UpscaleRequest,
}
TASK_BAD = {
    "text2img": {
        "prompt": st.one_of(not_text, too_long),
        "negative_prompt": st.one_of(not_text, too_long),
        "width": SIZE_BAD,
        "height": SIZE_BAD,
    },
    "semantic": {"color_map": st.one_of(bad_image(4096), off_palette_map()), "prompt": st.one_of(not_text, too_long)},
    "inpaint": {
        "image": bad_image(4096),
        "mask": st.one_of(empty_mask(), bad_image(4096), st.just(box_mask(16, 16, (0, 0, 8, 8)))),
        "strength": st.one_of(st.floats(0, 0.49), st.floats(min_value=1.001, allow_infinity=False), not_number),
        "mask_blur": st.one_of(st.integers(max_value=-1), st.integers(min_value=65), not_int),
        "only_masked_padding": st.one_of(st.integers(max_value=-1), st.integers(min_value=513), not_int),
        "invert_mask": not_bool,
        "only_masked": not_bool,
    },
    "upscale": {
        "image": bad_image(1024),
        "tile_size": st.one_of(
            st.integers(16, 512).filter(lambda v: v % 8), st.integers(max_value=15), st.integers(min_value=513)
        ),
        "tile_overlap": st.one_of(st.integers(max_value=-1), st.integers(min_value=129), not_int),
        "back_project": not_bool,
    },
}


@st.composite
def bad_requests(draw) -> tuple[object, str]:
    """(request, the field its error must name): one rule broken, everything else valid."""
    if draw(st.integers(0, 40)) == 0:
        return draw(st.one_of(st.text(max_size=4), st.integers(), st.none(), st.dictionaries(st.text(), st.text()))), (
            "request"
        )
    task = draw(st.sampled_from(sorted(REQUEST_TYPES)))
    fields = good(task)
    bad = {**SAMPLING_BAD, **TASK_BAD[task]}
    if task == "upscale":
        bad.pop("guidance_scale")  # the upscaler ignores guidance, but still checks it: keep the mix on its own fields
    name = draw(st.sampled_from(sorted(bad)))
    if name == "width" and draw(st.booleans()):  # within every side limit, but too many pixels for the batch
        fields |= {"width": 2048, "height": 2048, "batch_size": draw(st.integers(5, 8))}
        return REQUEST_TYPES[task](**fields), "width"
    fields[name] = draw(bad[name])
    return REQUEST_TYPES[task](**fields), name


def test_engine_names_the_field_of_every_bad_request(engine):
    counts: Counter[str] = Counter()

    @settings(max_examples=ENGINE_EXAMPLES, **FUZZ)
    @given(case=bad_requests())
    def check(case: tuple[object, str]) -> None:
        request, field = case
        counts["tried"] += 1
        with pytest.raises(InvalidRequestError) as caught:
            engine.run(request)
        error = caught.value
        assert error.field == field, f"{field} broken, but the error names {error.field}: {error}"
        assert str(error).startswith(f"{field}: ") and "(got " in str(error)
        counts["named"] += 1

    check()
    print(f"\nengine fuzz: {counts['tried']} bad requests tried, {counts['named']} named errors, 0 crashes")
    assert counts["tried"] >= 200 and counts["named"] == counts["tried"]
    result = engine.run(TextToImageRequest(**good("text2img")))
    assert len(result.images) == 1


# ---- through the HTTP API ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api_client(engine) -> Iterator[Client]:
    """The session's engine (tiny family) behind a fresh server."""
    from ui import build_demo

    demo = build_demo(engine)
    demo.queue()
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, share=False
    )
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def upload_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("uploads")
    files = {
        "corrupt.png": NOISE_PNG[: len(NOISE_PNG) // 3],
        "not-an-image.png": b"this is text, not a picture\n" * 20,
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    Image.new("1", (10_000, 10_000)).save(folder / "bomb.png")  # 100 M pixels, a few kB on disk
    Image.new("RGB", (1, 1)).save(folder / "one-pixel.png")
    Image.new("1", (5000, 16)).save(folder / "wide.png")
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(folder / "transparent-layer.png")
    Image.new("RGB", (64, 64), (1, 2, 3)).save(folder / "off-palette.png")
    noise_image(64, 64).save(folder / "photo.png")
    return {path.name: str(path) for path in folder.iterdir()}


def editor(background: str, layers: list[str] | None = None) -> dict:
    return {"background": handle_file(background), "layers": [handle_file(p) for p in layers or []], "composite": None}


def file_cases(files: dict[str, str]) -> list[tuple[str, dict, str]]:
    upscale = [(name, "image") for name in ("corrupt.png", "not-an-image.png", "bomb.png", "one-pixel.png", "wide.png")]
    cases = [("/upscale", {"image": handle_file(files[name])}, field) for name, field in upscale]
    cases += [
        ("/semantic", {"semantic_map": editor(files["off-palette.png"])}, "color_map"),
        ("/semantic", {"semantic_map": editor(files["corrupt.png"])}, "color_map"),
        ("/inpaint", {"image_and_mask": editor(files["photo.png"], [files["transparent-layer.png"]])}, "mask"),
        ("/inpaint", {"image_and_mask": editor(files["bomb.png"], [files["transparent-layer.png"]])}, "image"),
        ("/png_info", {"image": handle_file(files["not-an-image.png"])}, "image"),
    ]
    return cases


NUMBER_CASES = st.one_of(
    st.tuples(st.just("/text2img"), st.just("steps"), st.integers(max_value=0) | st.integers(min_value=151)),
    st.tuples(st.just("/text2img"), st.just("steps"), st.sampled_from([math.nan, "many", math.inf])),
    st.tuples(st.just("/text2img"), st.just("seed"), st.integers(max_value=-2)),
    st.tuples(st.just("/text2img"), st.just("sampler"), st.text(max_size=6).filter(lambda s: s not in SAMPLERS)),
    st.tuples(st.just("/text2img"), st.just("batch_size"), st.integers(min_value=9)),
    st.tuples(st.just("/text2img"), st.just("width"), st.integers(1, 1024).filter(lambda v: v % 8 or v < 32)),
    st.tuples(st.just("/text2img"), st.just("prompt"), too_long),
    st.tuples(st.just("/upscale"), st.just("tile_size"), st.integers(1, 512).filter(lambda v: v % 8)),
    st.tuples(st.just("/inpaint"), st.just("strength"), st.floats(0.0, 0.45)),
)
API_FIELDS = {
    "steps": "num_inference_steps",
    "sampler": "scheduler",
    "batch_size": "batch_size",
    "seed": "seed",
    "width": "width",
    "prompt": "prompt",
    "tile_size": "tile_size",
    "strength": "strength",
}


def test_api_names_the_field_and_keeps_serving(api_client: Client, upload_files: dict[str, str]):
    counts: Counter[str] = Counter()
    photo = upload_files["photo.png"]
    mask = box_mask(64, 64, (8, 8, 40, 40)).convert("RGBA")
    mask.putalpha(box_mask(64, 64, (8, 8, 40, 40)))
    layer = str(Path(photo).with_name("layer.png"))
    mask.save(layer)
    base = {
        "/text2img": {"prompt": "sky", "steps": TINY_STEPS, "seed": 1, "width": 32, "height": 32},
        "/upscale": {"image": handle_file(photo), "steps": TINY_STEPS, "seed": 1},
        "/inpaint": {"image_and_mask": editor(photo, [layer]), "steps": TINY_STEPS, "seed": 1},
    }

    def expect_named(api_name: str, kwargs: dict, field: str) -> None:
        counts["tried"] += 1
        with pytest.raises(AppError) as caught:
            api_client.predict(**kwargs, api_name=api_name)
        assert str(caught.value.message).startswith(f"{field}: "), (api_name, kwargs, caught.value.message)
        counts["named"] += 1

    for api_name, kwargs, field in file_cases(upload_files):
        expect_named(api_name, kwargs, field)

    @settings(max_examples=API_EXAMPLES, **FUZZ)
    @given(case=NUMBER_CASES)
    def check(case: tuple[str, str, object]) -> None:
        api_name, name, value = case
        expect_named(api_name, base[api_name] | {name: value}, API_FIELDS[name])

    check()
    print(f"\nAPI fuzz: {counts['tried']} bad requests tried, {counts['named']} named errors")
    assert counts["named"] == counts["tried"] >= 40
    _, seed_used, infotext = api_client.predict(**base["/text2img"], api_name="/text2img")
    assert seed_used == 1 and "Seed: 1" in infotext
