"""Prompt emphasis as AUTOMATIC1111 reads it, and long prompts in windows of the text encoder's length."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_helpers import STEPS, pixels

from ldm_core.infotext import parse_infotext
from ldm_core.prompts import has_emphasis, parse_prompt_attention, plain_text, prompt_encoder
from ldm_core.requests import TextToImageRequest

# A1111's own examples (modules/prompt_parser.py, parse_prompt_attention's docstring)
A1111_EXAMPLES = [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    ("\\(literal\\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    (
        "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
        [
            ("a ", 1.0),
            ("house", 1.1 * 1.1 * 1.3),
            (" ", 1.1),
            ("on", 1.0),
            (" a ", 1.1),
            ("hill", 0.55),
            (", sun, ", 1.1),
            ("sky", 1.1**4),
            (".", 1.1),
        ],
    ),
]


@pytest.mark.parametrize(("prompt", "expected"), A1111_EXAMPLES)
def test_parser_reads_prompts_as_a1111_does(prompt, expected):
    parsed = parse_prompt_attention(prompt)
    assert [text for text, _ in parsed] == [text for text, _ in expected]
    assert [weight for _, weight in parsed] == pytest.approx([weight for _, weight in expected])


def test_square_brackets_divide_and_broken_weights_stay_text():
    assert parse_prompt_attention("[word]") == [("word", pytest.approx(1 / 1.1))]
    assert plain_text("a (house:1.5) by [the] sea") == "a house by the sea"
    assert parse_prompt_attention("(x:.)")[-1] == ("x:.)", 1.0)  # A1111 raises here; the text is kept instead
    assert has_emphasis("(x)") and not has_emphasis("a house: big, red")


def test_parser_is_linear_on_long_adversarial_input():
    parsed = parse_prompt_attention("(" * 5000 + "a:" * 5000)
    assert plain_text("(" * 5000 + "a:" * 5000) == "a:" * 5000 and parsed[0][1] > 1.0


@pytest.fixture(scope="module")
def text_pipe(engine):
    return engine.load("text2img").pipe


def token_ids(pipe, text: str) -> list[int]:
    return pipe.tokenizer(text).input_ids


def test_weight_changes_the_embedding_at_the_weighted_tokens_only(text_pipe):
    encoder = prompt_encoder(text_pipe)
    with torch.inference_mode():
        plain = encoder("a house by the sea").prompt_embeds
        weighted = encoder("a (house:1.5) by the sea").prompt_embeds
        reference, _ = text_pipe.encode_prompt("a house by the sea", "cpu", 1, False)
    assert torch.equal(plain, reference)  # no syntax: exactly what the pipeline itself encodes
    changed = (weighted - plain).abs().amax(dim=-1)[0] > 0
    house = token_ids(text_pipe, "a house by the sea").index(token_ids(text_pipe, "house")[1])
    assert changed.nonzero().flatten().tolist() == [house]
    lighter = encoder("a [house] by the sea").prompt_embeds
    assert not torch.equal(lighter, plain)


def test_long_prompts_are_read_in_windows(text_pipe):
    encoder = prompt_encoder(text_pipe)
    window = text_pipe.tokenizer.model_max_length
    long_prompt = ", ".join(["a small house by the sea with trees"] * 6)  # well past one window
    with torch.inference_mode():
        embeddings = encoder(long_prompt, "")
        first_window = encoder(" ".join(long_prompt.split()[:4])).prompt_embeds
    assert embeddings.prompt_embeds.shape[1] % window == 0 and embeddings.prompt_embeds.shape[1] >= 2 * window
    assert embeddings.negative_prompt_embeds.shape == embeddings.prompt_embeds.shape
    # the second window is the encoder's output for text past the first one, not a copy of it
    assert not torch.equal(embeddings.prompt_embeds[:, window:], embeddings.prompt_embeds[:, :window])
    assert first_window.shape[1] == window


def test_engine_applies_emphasis_and_infotext_keeps_the_prompt_as_typed(engine):
    typed = "a (house:1.5) with the [sea]"
    request = TextToImageRequest(prompt=typed, num_inference_steps=STEPS, seed=3, width=64, height=64)
    result = engine.run(request)
    assert parse_infotext(result.infotexts[0])["Prompt"] == typed
    plain = engine.run(
        TextToImageRequest(prompt="a house with the sea", num_inference_steps=STEPS, seed=3, width=64, height=64)
    )
    assert np.abs(pixels(result.images[0]) - pixels(plain.images[0])).max() > 0
    assert not any("does not know" in warning for warning in result.warnings)  # brackets are not words


def test_long_prompt_runs_without_a_truncation_warning(engine):
    prompt = ", ".join(["a small house by the sea with trees"] * 6)
    result = engine.run(
        TextToImageRequest(prompt=prompt, negative_prompt="sky", num_inference_steps=STEPS, seed=1, width=64, height=64)
    )
    assert result.images and not any("reads only" in warning for warning in result.warnings)
