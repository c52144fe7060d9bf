"""The checkpoint picker as a user meets it: through the API (gradio_client) and in a real browser.

The studio is served over the tiny built-in family with a models folder holding a tiny A1111-layout SD 1.x file and
a LoRA; the tiny file's config folder stands in for the shipped full-size configs (as in test_checkpoints.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from ui_fixtures import TINY_STEPS, free_port, make_engine, ui_model_root  # noqa: F401 (fixtures)

from ldm_core import single_file

CHROMIUM = os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium")
TINY_FILE = "tiny-sd15.safetensors"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Iterator[Path]:
    from model_layouts import build_tiny_sd15_file
    from test_single_file import FAKES, write_fake

    path, configs = build_tiny_sd15_file(tmp_path_factory.mktemp("tiny_sd15"))
    folder = tmp_path_factory.mktemp("models")
    shutil.copy(path, folder / TINY_FILE)
    write_fake(folder / "detail-lora.safetensors", FAKES["lora"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(single_file, "CONFIG_ROOT", configs)
        yield folder


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("outputs")


@pytest.fixture(scope="module")
def picker_url(ui_model_root: Path, models_dir: Path, outputs: Path) -> Iterator[str]:  # noqa: F811
    from dataclasses import replace

    from ldm_core import Engine
    from ui import build_demo

    engine = Engine(replace(make_engine(ui_model_root, outputs).config, models_dir=models_dir))
    demo = build_demo(engine)
    demo.queue()
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, share=False
    )
    try:
        yield url
    finally:
        demo.close()


def text2img(client: Client, **options) -> str:
    _, _, infotext = client.predict(
        prompt="a tree", steps=TINY_STEPS, seed=5, width=64, height=64, api_name="/text2img", **options
    )
    return infotext


def test_picker_api_switches_model_status_and_infotext(picker_url: str, models_dir: Path):
    client = Client(picker_url, verbose=False)
    assert "model: **builtin**" in client.predict(api_name="/status")
    assert "Model: builtin" in text2img(client) and "Model hash" not in text2img(client)

    status = client.predict(TINY_FILE, api_name="/select_model")
    assert f"model: **{TINY_FILE}**" in status and "preset: **sd15**" in status
    digest = hashlib.sha256((models_dir / TINY_FILE).read_bytes()).hexdigest()[:10]
    with pytest.raises(AppError, match=r"upscale_x4: .*upscale_x4=False"):  # its x4 model is on the hub (offline)
        text2img(client)  # the tab's default asks for the x4 pass
    assert f"Model hash: {digest}, Model: tiny-sd15," in text2img(client, upscale_x4=False)

    with pytest.raises(AppError, match="detail-lora.safetensors cannot be selected: it is a LoRA"):
        client.predict("detail-lora.safetensors", api_name="/select_model")
    assert f"model: **{TINY_FILE}**" in client.predict(api_name="/status")  # the refused file changed nothing
    assert "model: **builtin**" in client.predict("builtin", api_name="/select_model")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)")
def test_picker_in_the_browser_and_png_info_selects_the_checkpoint(picker_url: str, outputs: Path, tmp_path: Path):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    from playwright.sync_api import expect
    from test_browser import CHROMIUM_ARGS, UI_TIMEOUT_MS

    from ldm_core.infotext import read_png_infotext

    shots = Path(os.environ.get("STUDIO_SCREENSHOT_DIR") or tmp_path)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)
        page.goto(picker_url)
        status = page.locator("#status-line")
        expect(status).to_contain_text("model: builtin")

        page.locator("#model-picker input").click()
        page.get_by_role("option", name=TINY_FILE).click()
        expect(status).to_contain_text(f"model: {TINY_FILE}")
        expect(status).to_contain_text("preset: sd15")
        cascade = page.locator("#txt2img-upscale-x4 input")
        expect(cascade).to_be_disabled()  # its x4 model is on the hub (offline here): locked off, with the reason
        expect(cascade).not_to_be_checked()
        expect(page.locator("#txt2img-upscale-x4")).to_contain_text("Unavailable with this model")
        page.locator("#txt2img-steps input[type=number]").fill(str(TINY_STEPS))
        page.locator("#txt2img-prompt textarea").fill("a tree by a lake")
        page.locator("#txt2img-generate").click()
        infotext = page.locator("#txt2img-infotext textarea")
        expect(infotext).to_have_value(re.compile(r"Model hash: [0-9a-f]{10}, Model: tiny-sd15"))
        page.screenshot(path=str(shots / "checkpoint_picker.png"), full_page=True)

        # back to builtin, then the PNG the tiny checkpoint made selects it again through PNG info -> send
        page.locator("#model-picker input").click()
        page.get_by_role("option", name="builtin", exact=True).click()
        expect(status).to_contain_text("model: builtin")
        expect(cascade).to_be_enabled()  # the built-in family has one: open and on again
        expect(cascade).to_be_checked()
        saved = [path for path in outputs.rglob("*.png") if "Model hash" in (read_png_infotext(path) or "")]
        assert saved, "the generated PNG carries its Model hash"
        page.get_by_role("tab", name="PNG info", exact=True).click()
        page.locator("#pnginfo-image input[type=file]").set_input_files(str(saved[-1]))
        expect(page.locator("#pnginfo-raw textarea")).to_have_value(re.compile("Model hash"))
        page.locator("#pnginfo-send").click()
        expect(status).to_contain_text(f"model: {TINY_FILE}")
        expect(page.locator("#model-picker input")).to_have_value(TINY_FILE)
        page.screenshot(path=str(shots / "checkpoint_picker_png_info.png"), full_page=True)
        browser.close()
