"""The "Inside the model" tab in a real browser: open each section, run it, see its pictures, keep a screenshot.

Screenshots go to STUDIO_SCREENSHOT_DIR as explorer_<section>.png (docs/screenshots for the README);
STUDIO_TEST_MODEL_ROOT=assets/builtin runs the same steps on the trained built-in models.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect
from test_browser import (  # noqa: F401 (fixtures)
    EXAMPLES,
    RESULT_TIMEOUT_MS,
    STEPS,
    browser,
    expect_loaded_image,
    open_tab,
    page,
    screenshot,
    screenshot_dir,
)
from ui_fixtures import studio_url, ui_model_root  # noqa: F401 (fixtures)


def open_section(page: Page, name: str) -> None:  # noqa: F811
    open_tab(page, "Inside the model")
    page.get_by_role("tab", name=name, exact=True).click()


def choose(page: Page, dropdown_id: str, option: str) -> None:  # noqa: F811
    page.locator(f"#{dropdown_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_autoencoder_section(page: Page, screenshot_dir: Path):  # noqa: F811
    open_section(page, "Autoencoder")
    page.locator("#explorer-ae-image input[type=file]").set_input_files(str(EXAMPLES / "images" / "lake_mountains.png"))
    expect_loaded_image(page, "#explorer-ae-image img")
    choose(page, "explorer-ae-edit", "noise")
    page.locator("#explorer-ae-timestep input[type=number]").fill("250")
    page.locator("#explorer-ae-run").click()
    expect_loaded_image(page, "#explorer-ae-recon img")
    expect_loaded_image(page, "#explorer-ae-edited img")
    expect(page.locator("#explorer-ae-summary")).to_contain_text("f = ", timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#explorer-ae-summary")).to_contain_text("noised to t = 250")
    expect(page.locator("#explorer-ae-channels img")).to_have_count(3)
    screenshot(page, screenshot_dir, "explorer_autoencoder")


def test_trajectory_section_replays_the_text_to_image_tab(page: Page, screenshot_dir: Path):  # noqa: F811
    open_tab(page, "Text-to-image")
    page.locator("#txt2img-prompt textarea").fill("mountains above a lake under a blue sky")
    page.locator("#txt2img-steps input[type=number]").fill(str(max(STEPS, 4)))
    page.locator("#txt2img-generate").click()
    expect(page.locator("#txt2img-infotext textarea")).to_have_value(re.compile(r"Seed: \d+"))
    open_section(page, "Denoising trajectory")
    choose(page, "explorer-traj-source", "Text-to-image: its last run")
    page.locator("#explorer-traj-every input[type=number]").fill("1")
    page.locator("#explorer-traj-run").click()
    expect_loaded_image(page, "#explorer-traj-frame img")
    expect(page.locator("#explorer-traj-caption")).to_contain_text("output (after", timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#explorer-traj-summary")).to_contain_text("text2img")
    page.locator("#explorer-traj-slider input[type=number]").fill("1")
    page.locator("#explorer-traj-slider input[type=number]").press("Enter")
    expect(page.locator("#explorer-traj-caption")).to_contain_text("step 2/")
    expect(page.locator("#explorer-traj-file")).to_contain_text(".webp")
    screenshot(page, screenshot_dir, "explorer_trajectory")


def test_attention_section(page: Page, screenshot_dir: Path):  # noqa: F811
    open_section(page, "Cross-attention")
    page.locator("#explorer-attn-steps input[type=number]").fill(str(max(STEPS, 4)))
    page.locator("#explorer-attn-run").click()
    expect_loaded_image(page, "#explorer-attn-overlay img")
    expect(page.locator("#explorer-attn-maps img").first).to_be_visible()
    choose(page, "explorer-attn-word", "sky")
    expect(page.locator("#explorer-attn-word input")).to_have_value("sky")
    expect_loaded_image(page, "#explorer-attn-overlay img")
    screenshot(page, screenshot_dir, "explorer_attention")


def test_strips_section(page: Page, screenshot_dir: Path):  # noqa: F811
    open_section(page, "Guidance & steps")
    page.locator("#explorer-strips-scales textarea").fill("1, 3, 5, 7, 9")
    page.locator("#explorer-strips-counts textarea").fill("5, 10, 20" if STEPS > 2 else "1, 2")
    page.locator("#explorer-strips-steps input[type=number]").fill(str(max(STEPS, 4)))
    page.locator("#explorer-strips-run").click()
    expect_loaded_image(page, "#explorer-strips-image img")
    expect(page.locator("#explorer-strips-table")).to_contain_text("seconds", timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#explorer-strips-table")).to_contain_text("Euler a")
    screenshot(page, screenshot_dir, "explorer_strips")
