"""Infotext reading cannot stall the server: a linear reader, a cap on the text read (and a note on what was cut),
and a writer/reader pair that gives back any prompt exactly, including one with a "Negative prompt:" line."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin
from ui_fixtures import free_port

from ldm_core.infotext import (
    MAX_INFOTEXT_CHARS,
    format_infotext,
    parse_infotext,
    parse_params,
    read_infotext,
    read_png_infotext,
)

PARAMS = {"Steps": 20, "Sampler": "DPM++ 2M", "CFG scale": 5.0, "Seed": 42, "Size": "64x64", "Task": "text2img"}
TRICKY = [
    "Negative prompt: this is the prompt",
    "a house\nNegative prompt: still the prompt\nand more",
    "  leading and trailing blanks \n",
    "Steps: 1, Sampler: a, Seed: 2",
    'quotes " and \\ backslashes, commas: colons',
    "",
    "ünïcödé 🏠\n\n\nblank lines",
]


@pytest.mark.parametrize("prompt", TRICKY)
@pytest.mark.parametrize("negative", ["", "blurry", "Negative prompt: twice\nlines", " padded "])
def test_any_prompt_reads_back_exactly(prompt: str, negative: str):
    parsed = parse_infotext(format_infotext(prompt, negative, PARAMS))
    assert (parsed["Prompt"], parsed["Negative prompt"]) == (prompt, negative)
    assert {key: parsed[key] for key in PARAMS} == PARAMS


@settings(max_examples=300, deadline=None)
@given(
    prompt=st.lists(st.sampled_from(list('ab :,"\\\n') + ["Negative prompt:", "Steps: 3, "]), max_size=30).map("".join),
    negative=st.lists(st.sampled_from(list('cd :,"\n') + ["Negative prompt:"]), max_size=20).map("".join),
)
def test_round_trip_holds_for_generated_prompts(prompt: str, negative: str):
    parsed = parse_infotext(format_infotext(prompt, negative, PARAMS))
    assert (parsed["Prompt"], parsed["Negative prompt"]) == (prompt, negative)
    assert parsed["Seed"] == 42


def test_a1111_style_text_still_parses():
    text = 'a lake\nNegative prompt: fog\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Lora: "x, y"'
    parsed = parse_infotext(text)
    assert parsed["Prompt"] == "a lake" and parsed["Negative prompt"] == "fog"
    assert parsed["Steps"] == 20 and parsed["Lora"] == "x, y" and parsed["CFG scale"] == 7


def test_the_parameter_scanner_is_linear_on_pathological_lines():
    """The old pattern backtracked: 96,000 characters took 49 s. These are 2,000,000; a generous bound catches a
    quadratic scan (which would need hours) without depending on the machine's speed."""
    lines = ("a" * 2_000_000, "a: " * 700_000, 'k: "' + "\\" * 1_999_000, ", a" * 700_000, "a," * 900_000 + "a: b")
    for line in lines:
        started = time.process_time()
        parse_params(line)
        parse_infotext(line + "\n" + line)
        assert time.process_time() - started < 30


def _png_with_text(path: Path, text: str, compressed: bool = False) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text, zip=compressed)
    Image.new("RGB", (16, 16)).save(path, pnginfo=info)
    return path


@pytest.mark.parametrize("compressed", [False, True])
def test_a_huge_text_chunk_is_cut_at_the_cap_and_the_cut_is_reported(tmp_path: Path, compressed: bool):
    text = "a, b: " * 500_000  # 3 MB
    stored = read_infotext(_png_with_text(tmp_path / "huge.png", text, compressed))
    assert stored.text == text[:MAX_INFOTEXT_CHARS]
    assert stored.cut_chars > 0 and "only the beginning" in stored.note
    assert read_png_infotext(tmp_path / "huge.png") == text[:MAX_INFOTEXT_CHARS]


def test_a_normal_png_reads_whole(tmp_path: Path):
    text = format_infotext("a tree", "", PARAMS)
    stored = read_infotext(_png_with_text(tmp_path / "small.png", text))
    assert stored.text == text and stored.cut_chars == 0 and stored.note is None


def test_the_server_answers_others_while_a_huge_png_is_read(engine, tmp_path: Path):
    """The bar's shape: a 3 MB text chunk sent to PNG info while another client polls GET /config."""
    from ui import build_demo

    demo = build_demo(engine)
    demo.queue()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        png = _png_with_text(tmp_path / "huge.png", "Negative prompt: x, y: z, " * 120_000)
        client = Client(url, verbose=False)
        answers: list[int] = []
        done = threading.Event()

        def poll() -> None:
            with httpx.Client(timeout=30) as http:
                while not done.is_set():
                    answers.append(http.get(f"{url}config").status_code)
                    time.sleep(0.05)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            raw, parsed = client.predict(image=handle_file(png), api_name="/png_info")
        finally:
            done.set()
            poller.join()
        assert len(raw) == MAX_INFOTEXT_CHARS and isinstance(parsed, dict)
        assert answers and set(answers) == {200}
    finally:
        demo.close()
