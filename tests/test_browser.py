"""The studio in a real browser (Playwright driving Debian's chromium, headless): paint or upload on every tab,
generate, see a loaded result, and keep a screenshot of each tab.

Screenshots go to STUDIO_SCREENSHOT_DIR when set (docs/screenshots for the README), else to a temp folder.
STUDIO_TEST_MODEL_ROOT=assets/builtin runs the same steps on the trained built-in models.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_fixtures import TINY_STEPS, studio_url, ui_model_root  # noqa: F401 (fixtures)

CHROMIUM = os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium")
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RESULT_TIMEOUT_MS = 120_000  # real models on 2 CPU cores; the tiny ones answer in a second or two
UI_TIMEOUT_MS = 60_000  # a busy 2-core machine (training in the background) can take seconds to render
STEPS = int(os.environ.get("STUDIO_TEST_STEPS", TINY_STEPS))


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("STUDIO_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def page(studio_url: str) -> Iterator[Page]:  # noqa: F811
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)
        page.goto(studio_url)
        expect(page.locator("#status-line")).to_contain_text("tasks:")
        yield page
        browser.close()


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def set_steps(page: Page, prefix: str) -> None:
    page.locator(f"#{prefix}-steps input[type=number]").fill(str(STEPS))


def paint_stroke(page: Page, editor_id: str) -> None:
    """A short brush stroke across the middle of an ImageEditor (about 10 moves: each costs ~150 ms here)."""
    canvas = page.locator(f"#{editor_id} .pixi-target canvas")
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2 - 50, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 10):
        page.mouse.move(x + 11 * i, y + (6 if i % 2 else -6))
    page.mouse.up()


def expect_loaded_image(page: Page, selector: str) -> None:
    image = page.locator(selector).first
    expect(image).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=image.element_handle(), timeout=RESULT_TIMEOUT_MS
    )


def wait_for_map(page: Page, loaded: str) -> None:
    """A map reached the editor: the loader's label changed with it; then give the canvas a moment to draw it.

    (The editor's own progress bar is no signal: on a loaded machine it was seen to linger long after the update.)
    """
    expect(page.locator("#semantic-map-source")).to_contain_text(loaded)
    page.wait_for_timeout(1_500)


def screenshot(page: Page, folder: Path, name: str) -> None:
    page.wait_for_timeout(300)  # let toasts and the gallery settle
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_text_to_image(page: Page, screenshot_dir: Path):
    open_tab(page, "Text-to-image")
    page.locator("#txt2img-prompt textarea").fill("a lake with mountains and trees on a sunny day")
    set_steps(page, "txt2img")
    page.locator("#txt2img-batch input[type=number]").fill("2")
    page.locator("#txt2img-generate").click()
    expect_loaded_image(page, "#txt2img-gallery img")
    expect(page.locator("#txt2img-infotext textarea")).to_have_value(re.compile(r"Seed: \d+"))
    screenshot(page, screenshot_dir, "text2img")


def test_semantic_map_painted_on_the_canvas(page: Page, screenshot_dir: Path):
    open_tab(page, "Semantic map")
    expect(page.locator("#semantic-palette")).to_contain_text("mountain")
    page.locator("#semantic-examples img").first.click()  # a ready-made map, then paint over it
    wait_for_map(page, "Loaded")
    paint_stroke(page, "semantic-editor")
    set_steps(page, "semantic")
    page.locator("#semantic-generate").click()
    expect_loaded_image(page, "#semantic-gallery img")
    expect(page.locator("#semantic-infotext textarea")).to_have_value(
        re.compile(r"Seed: \d+"), timeout=RESULT_TIMEOUT_MS
    )
    screenshot(page, screenshot_dir, "semantic")  # the finished image, not a live preview


def test_an_off_palette_map_warns_that_it_was_snapped(page: Page, tmp_path: Path):
    from PIL import Image, ImageFilter

    blurred = tmp_path / "blurred_map.png"
    Image.open(EXAMPLES / "semantic" / "beach.png").filter(ImageFilter.GaussianBlur(4)).save(blurred)
    open_tab(page, "Semantic map")
    with page.expect_file_chooser() as chooser:
        page.locator("#semantic-upload").click()
    chooser.value.set_files(str(blurred))
    wait_for_map(page, "Loaded blurred_map.png")
    set_steps(page, "semantic")
    page.locator("#semantic-generate").click()
    expect(page.get_by_text("snapped to the nearest class")).to_be_visible(timeout=RESULT_TIMEOUT_MS)


def test_send_to_inpainting_then_inpaint(page: Page, screenshot_dir: Path):
    open_tab(page, "Semantic map")
    page.locator("#semantic-to-inpaint").click()  # the semantic result becomes the inpainting input
    expect(page.get_by_role("tab", name="Inpainting", exact=True)).to_have_attribute("aria-selected", "true")
    paint_stroke(page, "inpaint-editor")
    page.locator("#inpaint-prompt textarea").fill("a red house")
    set_steps(page, "inpaint")
    page.locator("#inpaint-generate").click()
    expect_loaded_image(page, "#inpaint-gallery img")
    expect(page.locator("#inpaint-infotext textarea")).to_have_value(
        re.compile(r"Seed: \d+"), timeout=RESULT_TIMEOUT_MS
    )
    for close in page.locator(".toast-close").all():  # the previous test's warning is not this tab's
        close.click()
    screenshot(page, screenshot_dir, "inpaint")  # the finished image, not a live preview


def test_inpaint_an_uploaded_image(page: Page):
    open_tab(page, "Inpainting")
    page.locator("#inpaint-editor input[type=file]").set_input_files(str(EXAMPLES / "images" / "forest_house.png"))
    paint_stroke(page, "inpaint-editor")
    page.locator("#inpaint-generate").click()
    expect_loaded_image(page, "#inpaint-gallery img")


def test_super_resolution_upload(page: Page, screenshot_dir: Path):
    open_tab(page, "Super-resolution")
    page.locator("#upscale-input input[type=file]").set_input_files(
        str(EXAMPLES / "images" / "lake_mountains_64px.png")
    )
    expect_loaded_image(page, "#upscale-input img")
    set_steps(page, "upscale")
    page.locator("#upscale-generate").click()
    expect_loaded_image(page, "#upscale-slider img")
    expect(page.locator("#upscale-infotext textarea")).not_to_have_value("", timeout=RESULT_TIMEOUT_MS)
    screenshot(page, screenshot_dir, "upscale")


def test_png_info_reads_a_generated_png_and_sends_it_back(page: Page, screenshot_dir: Path, tmp_path: Path):
    from PIL import Image

    from ldm_core.infotext import format_infotext
    from ldm_core.outputs import save_png

    infotext = format_infotext(
        "a snowy mountain at sunset",
        "",
        {"Steps": STEPS, "Sampler": "euler_a", "CFG scale": 6, "Seed": 42, "Size": "128x128", "Task": "text2img"},
    )
    png = save_png(Image.new("RGB", (128, 128), (6, 230, 230)), tmp_path, seed=42, infotext=infotext)
    open_tab(page, "PNG info")
    page.locator("#pnginfo-image input[type=file]").set_input_files(str(png))
    expect(page.locator("#pnginfo-raw textarea")).to_have_value(infotext)
    screenshot(page, screenshot_dir, "png_info")
    page.locator("#pnginfo-send").click()
    expect(page.get_by_role("tab", name="Text-to-image", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#txt2img-prompt textarea")).to_have_value("a snowy mountain at sunset")
    expect(page.locator("#txt2img-seed input")).to_have_value("42")


def test_text_to_image_sizes_cascade_and_emphasis(page: Page, screenshot_dir: Path):
    open_tab(page, "Text-to-image")
    page.locator("#txt2img-prompt textarea").fill("a (snowy:1.3) mountain [range] at night")
    set_steps(page, "txt2img")
    page.locator("#txt2img-batch input[type=number]").fill("1")
    page.locator("#txt2img-size").get_by_text("Custom", exact=True).click()
    expect(page.locator("#txt2img-width input")).to_be_visible()
    page.locator("#txt2img-width input").fill("96")
    page.locator("#txt2img-height input").fill("64")
    expect(page.locator("#txt2img-upscale-x4 input")).to_be_checked()  # on by default
    page.locator("#txt2img-upscale-steps input[type=number]").fill(str(STEPS))
    page.locator("#txt2img-generate").click()
    expect_loaded_image(page, "#txt2img-gallery img")
    infotext = page.locator("#txt2img-infotext textarea")
    expect(infotext).to_have_value(re.compile(r"Hires upscale: 4"), timeout=RESULT_TIMEOUT_MS)
    expect(infotext).to_have_value(re.compile(r"^a \(snowy:1\.3\) mountain \[range\] at night\n"))
    expect(infotext).to_have_value(re.compile(r"Size: 96x64"))
    screenshot(page, screenshot_dir, "text2img_cascade")
    page.locator("#txt2img-size").get_by_text("2× the model's size", exact=True).click()
    expect(page.locator("#txt2img-width input")).not_to_be_visible()


def test_semantic_output_size(page: Page, screenshot_dir: Path):
    open_tab(page, "Semantic map")
    page.locator("#semantic-examples img").first.click()
    wait_for_map(page, "Loaded")
    set_steps(page, "semantic")
    page.locator("#semantic-output-size").get_by_text("Model's size", exact=True).click()
    page.locator("#semantic-upscale-x4 input").uncheck()
    page.locator("#semantic-generate").click()
    expect(page.locator("#semantic-infotext textarea")).to_have_value(
        re.compile(r"Output size: model"), timeout=RESULT_TIMEOUT_MS
    )
    expect_loaded_image(page, "#semantic-gallery img")
    screenshot(page, screenshot_dir, "semantic_output_size")
    page.locator("#semantic-output-size").get_by_text("Map's own size", exact=True).click()
    page.locator("#semantic-upscale-x4 input").check()


def test_send_to_image_to_image(page: Page, screenshot_dir: Path):
    open_tab(page, "Text-to-image")
    expect_loaded_image(page, "#txt2img-gallery img")  # the earlier test's result
    page.locator("#txt2img-to-img2img").click()
    expect(page.get_by_role("tab", name="Image-to-image", exact=True)).to_have_attribute("aria-selected", "true")
    expect_loaded_image(page, "#img2img-input img")
    page.locator("#img2img-prompt textarea").fill("a (sunny:1.2) valley")
    set_steps(page, "img2img")
    page.locator("#img2img-upscale-x4 input").uncheck()
    page.locator("#img2img-generate").click()
    expect_loaded_image(page, "#img2img-gallery img")
    expect(page.locator("#img2img-infotext textarea")).to_have_value(
        re.compile(r"Denoising strength: 0\.6"), timeout=RESULT_TIMEOUT_MS
    )
    screenshot(page, screenshot_dir, "img2img")


def test_outpainting(page: Page, screenshot_dir: Path):
    open_tab(page, "Inpainting")
    page.locator("#inpaint-editor input[type=file]").set_input_files(str(EXAMPLES / "images" / "beach.png"))
    page.locator("#inpaint-outpaint").get_by_text("Outpainting: extend the picture", exact=True).click()
    page.locator("#inpaint-extend-right input[type=number]").fill("64")
    page.locator("#inpaint-extend-top input[type=number]").fill("32")
    set_steps(page, "inpaint")
    page.locator("#inpaint-generate").click()
    expect(page.locator("#inpaint-infotext textarea")).to_have_value(
        re.compile(r"Outpaint: \"left 0, top 32, right 64, bottom 0\""), timeout=RESULT_TIMEOUT_MS
    )
    expect_loaded_image(page, "#inpaint-gallery img")
    screenshot(page, screenshot_dir, "outpaint")
