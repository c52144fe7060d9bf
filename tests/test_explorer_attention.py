"""The explorer's cross-attention maps and guidance / steps strips, on the tiny random family."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor

from ldm_core.errors import InvalidRequestError
from ldm_core.explorer.attention import (
    AttentionMaps,
    CrossAttentionRecorder,
    attention_maps,
    attention_share,
    prompt_words,
)
from ldm_core.explorer.strips import make_strips, parse_values
from ldm_core.requests import SemanticMapRequest, TextToImageRequest


def test_maps_take_the_conditional_half_average_heads_and_upsample():
    maps = AttentionMaps((4, 4), batch_size=1)
    heads, queries, tokens = 2, 4, 3  # a 2x2 layer on a 4x4 latent grid
    probabilities = torch.full((2 * heads, queries, tokens), 1 / tokens)
    probabilities[heads:, 0] = torch.tensor([0.0, 1.0, 0.0])  # conditional half: token 1 owns the top-left query
    maps.add(probabilities, heads)
    mean = maps.mean()
    assert mean.shape == (tokens, 4, 4) and maps.calls == 1
    assert mean[1, 0, 0] > mean[1, 3, 3] and mean[0, 0, 0] < mean[0, 3, 3]


def test_the_recorder_computes_what_diffusers_computes():
    torch.manual_seed(0)
    attn = Attention(query_dim=32, cross_attention_dim=16, heads=4, dim_head=8)
    hidden, context = torch.randn(2, 16, 32), torch.randn(2, 5, 16)
    maps = AttentionMaps((4, 4), batch_size=1)
    expected = AttnProcessor()(attn, hidden, context)
    recorded = CrossAttentionRecorder(maps)(attn, hidden, context)
    torch.testing.assert_close(recorded, expected)
    assert maps.calls == 1 and maps.mean().shape == (5, 4, 4)
    self_attn = Attention(query_dim=32, heads=4, dim_head=8)
    torch.testing.assert_close(CrossAttentionRecorder(maps)(self_attn, hidden), AttnProcessor()(self_attn, hidden))
    assert maps.calls == 1  # self-attention is not recorded


def test_prompt_words_follow_the_tokenizer(engine):
    tokenizer = engine.load("text2img").pipe.tokenizer
    words = prompt_words(tokenizer, "a mountain, the sky")
    assert [w.text for w in words] == ["a", "mountain", ",", "the", "sky"]
    assert [w.occurrence for w in prompt_words(tokenizer, "a sky a tree")] == [1, 1, 2, 1]
    positions = [p for w in words for p in w.positions]
    assert positions == list(range(1, len(positions) + 1))
    ids = tokenizer("a mountain, the sky").input_ids
    assert [tokenizer.convert_ids_to_tokens(ids[w.positions[0]]) for w in words if w.known] == [
        w.text for w in words if w.known
    ]


def test_attention_maps_on_the_text_model(engine):
    loaded = engine.load("text2img")
    before = loaded.denoiser.attn_processors
    request = TextToImageRequest(prompt="a mountain under the sky", num_inference_steps=2, seed=4)
    result = attention_maps(engine, request)
    assert [w.word.text for w in result.words] == ["a", "mountain", "under", "the", "sky"]
    grid = loaded.native_size // loaded.vae_factor
    assert all(w.heat.shape == (grid, grid) and w.overlay.size == result.image.size for w in result.words)
    cross_layers = sum(name.endswith("attn2.processor") for name in before)
    assert result.calls == cross_layers * 2  # every cross-attention layer, every step
    after = loaded.denoiser.attn_processors
    assert all(after[name] is before[name] for name in before)  # put back as they were
    assert not result.word("under").word.known and result.word("sky").word.known
    with pytest.raises(InvalidRequestError, match="word"):
        result.word("ocean")


def test_attention_needs_a_prompt(engine):
    with pytest.raises(InvalidRequestError, match="prompt"):
        attention_maps(engine, TextToImageRequest(prompt="  "))
    with pytest.raises(InvalidRequestError, match="request"):
        attention_maps(engine, SemanticMapRequest(color_map=None))  # type: ignore[arg-type]


def test_attention_share():
    heat = np.ones((4, 4))
    mask = np.zeros((16, 16), dtype=bool)
    mask[:8] = True
    assert attention_share(heat, mask, normalised=False) == pytest.approx(0.5, abs=1e-6)
    heat[:2] = 3  # three times as much attention on the top half
    assert attention_share(heat, mask, normalised=False) == pytest.approx(0.75, abs=0.03)
    assert attention_share(heat, mask) > 0.85  # DAAM's min-max stretch removes what every position shares


# --- strips ----------------------------------------------------------------------------------------------------------


def test_strips_keep_the_seed_and_change_one_knob(engine):
    request = TextToImageRequest(prompt="sky", num_inference_steps=2, seed=-1)
    strips = make_strips(engine, request, scales=[1, 6], steps=[1, 2], samplers=["ddim", "euler_a"])
    assert [cell.value for cell in strips.guidance.cells] == [1.0, 6.0]
    assert [[cell.value for cell in strip.cells] for strip in strips.steps] == [[1, 2], [1, 2]]
    assert all(cell.seconds > 0 for strip in [strips.guidance, *strips.steps] for cell in strip.cells)
    first, second = (np.asarray(cell.image) for cell in strips.guidance.cells)
    assert not np.array_equal(first, second)
    again = engine.run(TextToImageRequest(prompt="sky", num_inference_steps=2, seed=strips.seed, guidance_scale=6))
    assert np.array_equal(np.asarray(again.images[0]), second)
    picture = strips.picture()
    assert picture.width >= 2 * strips.guidance.cells[0].image.width


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"scales": [100]}, "guidance scales"),
        ({"steps": [1.5]}, "step counts"),
        ({"steps": [0]}, "step counts"),
        ({"samplers": ["plms"]}, "samplers"),
        ({"scales": [], "steps": []}, "strips"),
        ({"scales": list(range(20))}, "guidance scales"),
    ],
)
def test_strip_errors_name_the_field(engine, options, field):
    with pytest.raises(InvalidRequestError) as caught:
        make_strips(engine, TextToImageRequest(prompt="sky", num_inference_steps=1), **options)
    assert caught.value.field == field


def test_parse_values():
    assert parse_values("scales", "1, 3;5 ,") == [1.0, 3.0, 5.0]
    with pytest.raises(InvalidRequestError, match="scales"):
        parse_values("scales", "1, three")


def test_the_attention_check_prints_a_row_per_class_word(engine, tmp_path):
    """The bar's script end to end on the tiny family, with an untrained evaluator (the numbers mean nothing here)."""
    from ldm_train.evaluation.attention import attention_table
    from ldm_train.evaluation.segmenter import SceneSegmenter

    SceneSegmenter(width=8, depth=2).save(tmp_path / "evaluator")
    table = attention_table(engine, tmp_path / "evaluator", seeds=2, steps=1, prompts=["a mountain under the sky"])
    rows = [line for line in table.splitlines() if line.startswith("| a mountain")]
    assert [row.split(" | ")[1:3] for row in rows] == [["mountain", "mountain"], ["sky", "sky"]]
    assert all(row.endswith(("met |", "class never drawn |")) for row in rows)
