"""The studio in a real browser (Playwright driving Debian's chromium, headless) at 1280×900: paint or upload on every
tab, generate, see a loaded result, and keep a screenshot of each tab; then what a person meets on the way: one
progress line, Cancel and Esc, errors that keep the last result, the clickable palette, Ctrl+Enter, the status line,
the prompt words, send-to, the History tab, and a narrow (400×800) screen.

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

from ldm_core.registry import TASKS

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
LONG_STEPS = 150  # a run long enough to watch and cancel (a few seconds with the tiny models)
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("STUDIO_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_studio(browser: playwright_api.Browser, url: str, viewport: dict[str, int] = VIEWPORT) -> Page:
    """A new browser session (its own gradio session) on the studio, once the status line says it is ready."""
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    page.goto(url)
    expect(page.locator("#status-line summary")).to_contain_text("Ready")
    return page


@pytest.fixture(scope="module")
def page(browser: playwright_api.Browser, studio_url: str) -> Iterator[Page]:  # noqa: F811
    page = open_studio(browser, studio_url)
    yield page
    page.close()


@pytest.fixture
def fresh_page(
    request: pytest.FixtureRequest,
    browser: playwright_api.Browser,
    studio_url: str,  # noqa: F811
    screenshot_dir: Path,
) -> Iterator[Page]:
    """A page of its own, for a test that needs the tabs as they start (a failure leaves its screenshot too)."""
    page = open_studio(browser, studio_url)
    yield page
    screenshot_if_failed(request, page, screenshot_dir)  # before the page closes
    page.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request: pytest.FixtureRequest, screenshot_dir: Path) -> Iterator[None]:
    """A failed test leaves `failed-<test>.png` of the page beside the screenshots."""
    yield
    if "page" in request.fixturenames:
        screenshot_if_failed(request, request.getfixturevalue("page"), screenshot_dir)


def screenshot_if_failed(request: pytest.FixtureRequest, page: Page, screenshot_dir: Path) -> None:
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(screenshot_dir / f"failed-{request.node.name}.png"), full_page=True)


def open_tab(page: Page, name: str) -> None:
    tab = page.get_by_role("tab", name=name, exact=True)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")


def shown_trackers(page: Page, *ids: str) -> int:
    """gradio status trackers (progress overlays, "Error" badges) showing over these components."""
    selector = ", ".join(f"#{i} [data-testid=status-tracker]:not(.hide)" for i in ids)
    return page.locator(selector).count()


def set_steps(page: Page, prefix: str) -> None:
    page.locator(f"#{prefix}-steps input[type=number]").fill(str(STEPS))


def paint_stroke(page: Page, editor_id: str) -> None:
    """A short brush stroke across the middle of an ImageEditor (about 10 moves: each costs ~150 ms here).

    A stroke made while the editor is still drawing an image it just received is dropped: the Undo button tells
    whether this one took, and the stroke is repeated (at most twice more) when it did not."""
    canvas = page.locator(f"#{editor_id} .pixi-target canvas")
    undo = page.locator(f'#{editor_id} button[aria-label="Undo"]')
    expect(canvas).to_be_visible()
    for _ in range(3):
        canvas.scroll_into_view_if_needed()  # mouse coordinates are the viewport's
        box = canvas.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2 - 50, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        for i in range(1, 10):
            page.mouse.move(x + 11 * i, y + (6 if i % 2 else -6))
        page.mouse.up()
        page.wait_for_timeout(500)  # the editor hands the new layer to gradio shortly after the stroke
        if undo.is_enabled():
            return
        page.wait_for_timeout(1_000)


def expect_loaded_image(page: Page, selector: str) -> None:
    image = page.locator(selector).first
    expect(image).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=image.element_handle(), timeout=RESULT_TIMEOUT_MS
    )


def expect_whole_in_gallery(page: Page, gallery: str) -> None:
    """The gallery's (single) result is shown whole: not cut off by the gallery's box, which scrolls."""
    image = page.locator(f"{gallery} img").first.bounding_box()
    box = page.locator(f"{gallery} .grid-wrap").bounding_box()
    assert image and box, (image, box)
    assert image["y"] + image["height"] <= box["y"] + box["height"] + 1, (image, box)
    assert image["x"] >= box["x"] - 1 and image["x"] + image["width"] <= box["x"] + box["width"] + 1, (image, box)


def wait_for_map(page: Page, loaded: str) -> None:
    """A map reached the editor: the loader's label changed with it; then give the canvas a moment to draw it.

    (The editor's own progress bar is no signal: on a loaded machine it was seen to linger long after the update.)
    """
    expect(page.locator("#semantic-map-source")).to_contain_text(loaded)
    page.wait_for_timeout(1_500)


def close_toasts(page: Page) -> None:
    """Close the messages on screen (an earlier test's are not this one's)."""
    page.locator(".toast-close").evaluate_all("buttons => buttons.forEach(button => button.click())")
    expect(page.locator(".toast-body")).to_have_count(0)


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
    expect_whole_in_gallery(page, "#semantic-gallery")
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
    close_toasts(page)  # the previous test's warning is not this tab's
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


def test_text_to_image_sizes_cascade_and_emphasis(fresh_page: Page, screenshot_dir: Path):
    """The tab's defaults, not what an earlier test sent to it (PNG info turns the cascade off)."""
    page = fresh_page
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
    expect(page.locator("#semantic-upscale-x4 input")).not_to_be_checked()  # off by default: 1024 px would be slow
    page.locator("#semantic-generate").click()
    expect(page.locator("#semantic-infotext textarea")).to_have_value(
        re.compile(r"Output size: model"), timeout=RESULT_TIMEOUT_MS
    )
    expect_loaded_image(page, "#semantic-gallery img")
    screenshot(page, screenshot_dir, "semantic_output_size")
    page.locator("#semantic-output-size").get_by_text("Map's own size", exact=True).click()


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


# ---- what a person meets on the way ---------------------------------------------------------------------------------
def progress_of(page: Page, prefix: str):
    """The tab's progress line as it is now (`mark_stale` tags the one shown before a click)."""
    return page.locator(f"#{prefix}-progress .studio-progress:not([data-stale])")


def mark_stale(page: Page, prefix: str) -> None:
    """Tag the line on screen, so that waits after a click see only lines drawn since (each update redraws it)."""
    page.locator(f"#{prefix}-progress .studio-progress").evaluate("line => { line.dataset.stale = 'yes'; }")


def expect_done(page: Page, prefix: str) -> None:
    """The tab's run finished with a result (on failure, the messages on screen say why)."""
    line = progress_of(page, prefix)
    expect(line).to_have_attribute("data-state", re.compile("done|failed|cancelled"), timeout=RESULT_TIMEOUT_MS)
    state = line.get_attribute("data-state")
    assert state == "done", f"{prefix}: {state}: {page.locator('.toast-body').all_inner_texts()}"


def generate_once(page: Page, prompt: str) -> str:
    """A short text-to-image run to the end; returns the seed it shows."""
    open_tab(page, "Text-to-image")
    page.locator("#txt2img-prompt textarea").fill(prompt)
    set_steps(page, "txt2img")
    mark_stale(page, "txt2img")
    page.locator("#txt2img-generate").click()
    expect_done(page, "txt2img")
    expect_loaded_image(page, "#txt2img-gallery img")
    seed = page.locator("#txt2img-seed-used input").input_value()
    assert seed.isdigit()
    return seed


def test_one_progress_line_with_steps_and_eta_over_a_visible_preview_then_esc_cancels(page: Page):
    """Ctrl+Enter starts the run; stale seed and parameters go at once; the line counts steps with an ETA while the
    preview shows with no overlay; Esc cancels: "Cancelled", and the previous result is back."""
    seed = generate_once(page, "a lake")
    page.locator("#txt2img-steps input[type=number]").fill(str(LONG_STEPS))
    mark_stale(page, "txt2img")
    page.locator("#txt2img-prompt textarea").press("Control+Enter")
    line = progress_of(page, "txt2img")
    expect(line).to_contain_text(re.compile(rf"Step \d+ of {LONG_STEPS} · [\d.]+ s · about [\d.]+ s left"))
    expect(page.locator("#txt2img-seed-used input")).to_have_value("")
    expect(page.locator("#txt2img-infotext textarea")).to_have_value("")
    expect_loaded_image(page, "#txt2img-gallery img")  # the live preview
    assert shown_trackers(page, "txt2img-gallery", "txt2img-seed-used", "txt2img-infotext") == 0
    page.keyboard.press("Escape")
    expect(line).to_have_attribute("data-state", "cancelled")
    expect(line).to_contain_text("Cancelled")
    expect(page.locator("#txt2img-seed-used input")).to_have_value(seed)
    expect(page.locator("#txt2img-infotext textarea")).to_have_value(re.compile(rf"a lake\n.*Seed: {seed}"))
    set_steps(page, "txt2img")


def test_one_users_cancel_stops_only_their_own_run(page: Page, browser, studio_url: str):  # noqa: F811
    """Two browser sessions: A runs, B waits for the engine; A's Cancel stops A's run only, B's finishes."""
    other = open_studio(browser, studio_url)
    try:
        for session in (page, other):
            open_tab(session, "Text-to-image")
            session.locator("#txt2img-prompt textarea").fill("a sea")
            session.locator("#txt2img-steps input[type=number]").fill(str(LONG_STEPS))
        mark_stale(page, "txt2img")
        page.locator("#txt2img-generate").click()
        expect(progress_of(page, "txt2img")).to_have_attribute("data-state", "running")
        mark_stale(other, "txt2img")
        other.locator("#txt2img-generate").click()
        page.locator("#txt2img-cancel").click()
        expect(progress_of(page, "txt2img")).to_have_attribute("data-state", "cancelled")
        expect(progress_of(other, "txt2img")).to_have_attribute("data-state", "done", timeout=RESULT_TIMEOUT_MS)
        expect(other.locator("#txt2img-infotext textarea")).to_have_value(re.compile(rf"Steps: {LONG_STEPS}"))
    finally:
        other.close()
        set_steps(page, "txt2img")


def test_an_error_keeps_the_last_result_shows_its_message_once_and_no_badges(page: Page):
    seed = generate_once(page, "a river")
    page.locator("#txt2img-prompt textarea").fill("sky " * 2000)  # past the prompt length limit
    mark_stale(page, "txt2img")
    page.locator("#txt2img-generate").click()
    toast = page.locator(".toast-body").filter(has_text="prompt: must be at most")
    expect(toast).to_have_count(1)
    expect(progress_of(page, "txt2img")).to_have_attribute("data-state", "failed")
    expect(page.locator("#txt2img-seed-used input")).to_have_value(seed)
    expect_loaded_image(page, "#txt2img-gallery img")
    assert shown_trackers(page, "txt2img-gallery", "txt2img-seed-used", "txt2img-infotext") == 0
    close_toasts(page)


def brush_colour(page: Page) -> str:
    return page.locator('#semantic-editor button[aria-label="Color"]').evaluate("b => b.style.color")


def test_the_palette_is_clickable_labelled_and_closes_after_a_pick(page: Page):
    open_tab(page, "Semantic map")
    colour = page.locator('#semantic-editor button[aria-label="Color"]')
    expect(colour).to_be_visible()
    page.locator('#semantic-palette button[data-label="sea"]').click()  # the legend picks the brush colour
    expect(colour).to_have_attribute("style", re.compile(r"color: rgb\(9, 7, 230\)"))
    expect(page.locator('#semantic-palette button[aria-pressed="true"]')).to_have_text("sea")
    expect(page.locator("#semantic-editor .swatch-container")).to_have_count(0)
    colour.click()  # the editor's own picker: every swatch says its class; a pick closes it
    swatches = page.locator("#semantic-editor .swatch-container button.color")
    expect(swatches).to_have_count(14)
    assert swatches.evaluate_all("bs => bs.map(b => b.dataset.label)")[:3] == ["sky", "tree", "grass"]
    page.locator('#semantic-editor .swatch-container button[data-label="house"]').click()
    expect(page.locator("#semantic-editor .swatch-container")).to_have_count(0)
    assert brush_colour(page) == "rgb(255, 9, 224)"
    page.locator("#semantic-palette .studio-brush-size input").fill("40")  # brush size beside the canvas
    page.locator('#semantic-editor button[aria-label="Brush Size"]').click()
    expect(page.locator("#semantic-editor .size_picker input[type=range]")).to_have_value("40")
    page.locator("#semantic-blank").focus()  # closes the size popup
    page.mouse.click(5, 5)
    page.locator('#semantic-editor button[aria-label="Clear canvas"]').click()  # the trash resets to sky
    expect(page.locator("#semantic-map-source")).to_contain_text("Blank canvas (sky)")


@pytest.mark.parametrize(
    ("tab", "button"),
    [
        ("Text-to-image", "#txt2img-generate"),
        ("Semantic map", "#semantic-generate"),
        ("Inpainting", "#inpaint-generate"),
        ("Super-resolution", "#upscale-generate"),
    ],
)
def test_the_run_button_is_visible_without_scrolling(page: Page, tab: str, button: str):
    page.evaluate("window.scrollTo(0, 0)")
    open_tab(page, tab)
    box = page.locator(button).bounding_box()
    assert box is not None and box["y"] + box["height"] <= VIEWPORT["height"], box


def test_the_status_line_is_short_with_details_on_a_click(page: Page):
    summary = page.locator("#status-line summary")
    expect(summary).to_have_text(re.compile(rf"^Ready · CPU · {len(TASKS)} tasks"))
    details = page.locator("#status-line .studio-status-details")
    expect(details).to_be_hidden()
    summary.click()
    expect(details).to_be_visible()
    expect(details).to_contain_text("model: builtin")
    expect(details).to_contain_text("preset: builtin")
    summary.click()
    expect(details).to_be_hidden()


def test_prompt_words_are_shown_and_add_themselves_to_the_prompt(page: Page):
    open_tab(page, "Text-to-image")
    words = page.locator("#txt2img-words .studio-word")
    known = set(words.all_inner_texts())
    assert len(known) > 5
    placeholder = page.locator("#txt2img-prompt textarea").get_attribute("placeholder") or ""
    assert set(placeholder.replace(",", " ").split()) <= known or placeholder.startswith("click the words")
    page.locator("#txt2img-prompt textarea").fill("a")
    page.locator('#txt2img-words .studio-word[data-word="house"]').click()
    expect(page.locator("#txt2img-prompt textarea")).to_have_value("a house")


def test_send_to_inpainting_carries_the_image_and_the_prompt_and_inpainting_sends_to_itself(page: Page):
    generate_once(page, "a house")
    page.locator("#txt2img-to-inpaint").click()
    expect(page.get_by_role("tab", name="Inpainting", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#inpaint-prompt textarea")).to_have_value("a house")
    paint_stroke(page, "inpaint-editor")
    set_steps(page, "inpaint")
    mark_stale(page, "inpaint")
    page.locator("#inpaint-generate").click()
    expect_done(page, "inpaint")
    page.locator("#inpaint-prompt textarea").fill("")
    page.locator("#inpaint-to-inpaint").click()  # a second pass on the result
    expect(page.locator("#inpaint-prompt textarea")).to_have_value("a house")
    expect(page.locator("#inpaint-editor .pixi-target canvas")).to_be_visible()


def test_png_info_sends_the_image_too(page: Page, tmp_path: Path):
    from PIL import Image

    from ldm_core.infotext import format_infotext
    from ldm_core.outputs import save_png

    infotext = format_infotext("a red house", "", {"Steps": STEPS, "Seed": 5, "Size": "128x128", "Task": "inpaint"})
    png = save_png(Image.new("RGB", (128, 128), (200, 30, 30)), tmp_path, seed=5, infotext=infotext)
    open_tab(page, "PNG info")
    page.locator("#pnginfo-image input[type=file]").set_input_files(str(png))
    expect(page.locator("#pnginfo-raw textarea")).to_have_value(infotext)
    page.locator("#pnginfo-send").click()
    expect(page.get_by_role("tab", name="Inpainting", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#inpaint-prompt textarea")).to_have_value("a red house")
    expect_loaded_image(page, "#inpaint-gallery img")  # the image, with its seed and parameters beside it
    expect(page.locator("#inpaint-seed-used input")).to_have_value("5")


def test_a_png_without_parameters_warns_once(page: Page, tmp_path: Path):
    from PIL import Image

    plain = tmp_path / "plain.png"
    Image.new("RGB", (32, 32), (10, 10, 10)).save(plain)
    open_tab(page, "PNG info")
    page.locator("#pnginfo-image input[type=file]").set_input_files(str(plain))
    warning = page.locator(".toast-body").filter(has_text="carries no generation parameters")
    expect(warning).to_have_count(1)
    page.wait_for_timeout(1_000)
    expect(warning).to_have_count(1)
    close_toasts(page)


def test_history_lists_results_newest_first_survives_a_reload_and_sends_and_deletes(page: Page, screenshot_dir: Path):
    generate_once(page, "a snowy mountain")
    page.reload()
    expect(page.locator("#status-line summary")).to_contain_text("Ready")
    open_tab(page, "History")
    cards = page.locator("#history-gallery img")
    expect(cards.first).to_be_visible()
    total = cards.count()
    expect(page.locator("#history-gallery")).to_contain_text("a snowy mountain")  # newest first: its caption
    screenshot(page, screenshot_dir, "history")
    page.locator("#history-search textarea").fill("snowy")
    page.locator("#history-search textarea").press("Enter")
    expect(page.locator("#history-count")).to_contain_text("matching")
    matching = cards.count()
    assert 1 <= matching <= total
    cards.first.click()
    expect(page.locator("#history-infotext textarea")).to_have_value(re.compile(r"^a snowy mountain\n"))
    page.locator("#history-to-text2img").click()
    expect(page.get_by_role("tab", name="Text-to-image", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#txt2img-prompt textarea")).to_have_value("a snowy mountain")
    open_tab(page, "History")
    cards.first.click()
    page.locator("#history-delete").click()
    expect(cards).to_have_count(matching - 1)


def test_a_narrow_screen_keeps_the_tabs_and_generate_close(browser, studio_url: str, screenshot_dir: Path):  # noqa: F811
    narrow = open_studio(browser, studio_url, viewport={"width": 400, "height": 800})
    try:
        status = narrow.locator("#status-line").bounding_box()
        assert status is not None and status["height"] < 60  # one collapsed line
        expect(narrow.locator("#status-line .studio-status-details")).to_be_hidden()
        generate = narrow.locator("#txt2img-generate").bounding_box()
        assert generate is not None and generate["y"] + generate["height"] <= 800, generate
        semantic = narrow.get_by_role("tab", name="Semantic map", exact=True)
        if not semantic.is_visible():  # gradio folds tabs that do not fit into a menu
            narrow.locator(".overflow-menu button, button.overflow-menu").first.click()
        semantic.click()
        box = narrow.locator("#semantic-generate").bounding_box()
        assert box is not None and box["y"] < 2 * 800, box  # reachable within one more screen
        narrow.evaluate("window.scrollTo(0, 0)")
        narrow.screenshot(path=str(screenshot_dir / "narrow.png"))
    finally:
        narrow.close()
