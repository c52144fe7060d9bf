"""Prompt emphasis and long prompts for CLIP text encoders: `(word:1.3)`, `(word)`, `[word]`, any length.

The syntax is AUTOMATIC1111's (`modules/prompt_parser.py`, `parse_prompt_attention`): `(x)` multiplies the attention
to x by 1.1, `[x]` divides it by 1.1, `(x:w)` multiplies it by w, brackets nest, `\\(` is a literal bracket (A1111's
`BREAK` is not read: it stays a word). compel reads only its own syntax (`(x)1.3`, `x+`), so A1111's grammar is read
here (one linear pass of a tokenizing regex) and compel's `EmbeddingsProvider` does the rest: it encodes the text in
windows of the encoder's length (each framed by bos/eos), scales the weighted tokens' embeddings away from the empty
prompt's (w > 1) or blends toward the prompt with them masked out (w < 1), and leaves every other token as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import torch

_ATTENTION = re.compile(
    r"""
    \\\(|\\\)|\\\[|\\]|\\\\|\\|   # escaped brackets and backslashes
    \(|\[|                        # openers
    :\s*([+-]?[.\d]+)\s*\)|       # (text:weight) closer
    \)|]|                         # closers
    [^\\()\[\]:]+|                # plain text
    :
    """,
    re.X,
)
ROUND_MULTIPLIER = 1.1
SQUARE_MULTIPLIER = 1 / 1.1
_SYNTAX = re.compile(r"[()\[\]\\]")


def parse_prompt_attention(text: str) -> list[tuple[str, float]]:
    """A1111's reading of a prompt: [(fragment, weight)], runs of equal weight merged."""
    fragments: list[list[Any]] = []
    round_brackets: list[int] = []
    square_brackets: list[int] = []

    def multiply_range(start: int, multiplier: float) -> None:
        for fragment in fragments[start:]:
            fragment[1] *= multiplier

    for match in _ATTENTION.finditer(text):
        token, weight = match.group(0), match.group(1)
        if token.startswith("\\"):
            fragments.append([token[1:], 1.0])
        elif token == "(":
            round_brackets.append(len(fragments))
        elif token == "[":
            square_brackets.append(len(fragments))
        elif weight is not None and round_brackets:
            try:
                multiply_range(round_brackets.pop(), float(weight))
            except ValueError:  # "(x:.)" or "(x:1.2.3)": A1111 would fail; keep the text as typed instead
                fragments.append([token, 1.0])
        elif token == ")" and round_brackets:
            multiply_range(round_brackets.pop(), ROUND_MULTIPLIER)
        elif token == "]" and square_brackets:
            multiply_range(square_brackets.pop(), SQUARE_MULTIPLIER)
        else:
            fragments.append([token, 1.0])
    for start in round_brackets:  # unclosed brackets still apply, as in A1111
        multiply_range(start, ROUND_MULTIPLIER)
    for start in square_brackets:
        multiply_range(start, SQUARE_MULTIPLIER)
    merged: list[list[Any]] = []
    for fragment in fragments or [["", 1.0]]:
        if merged and merged[-1][1] == fragment[1]:
            merged[-1][0] += fragment[0]
        else:
            merged.append(fragment)
    return [(text, float(weight)) for text, weight in merged]


def has_emphasis(prompt: str) -> bool:
    """True when the prompt uses any of the syntax (brackets or escapes)."""
    return bool(_SYNTAX.search(prompt))


def plain_text(prompt: str) -> str:
    """The words the text encoder sees, without the emphasis syntax."""
    return "".join(text for text, _ in parse_prompt_attention(prompt))


@dataclass(frozen=True)
class PromptEmbeddings:
    prompt_embeds: torch.Tensor  # (1, windows * window length, dim)
    negative_prompt_embeds: torch.Tensor  # padded to the same length with the empty prompt's windows


class PromptEncoder:
    """Weighted, windowed prompt embeddings for a pipeline with a CLIP-style `tokenizer` and `text_encoder`."""

    def __init__(self, tokenizer: Any, text_encoder: Any):
        from compel import EmbeddingsProvider, SplitLongTextMode

        self.provider = EmbeddingsProvider(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            truncate=False,  # long prompts in windows of the encoder's length
            split_long_text_mode=SplitLongTextMode.WORDS,  # a BPE word is never cut between two windows
        )

    @property
    def window(self) -> int:
        return self.provider.max_token_count

    def _encode(self, prompt: str, device: torch.device) -> torch.Tensor:
        fragments = parse_prompt_attention(prompt)
        return self.provider.get_embeddings_for_weighted_prompt_fragments(
            text_batch=[[text for text, _ in fragments]],
            fragment_weights_batch=[[weight for _, weight in fragments]],
            device=device,
        )

    def __call__(self, prompt: str, negative_prompt: str = "", device: torch.device | None = None) -> PromptEmbeddings:
        device = device or self.provider.text_encoder.device
        self.provider.device = device  # where compel makes its token ids (under offload: the execution device)
        positive, negative = self._encode(prompt, device), self._encode(negative_prompt, device)
        length = max(positive.shape[1], negative.shape[1])
        return PromptEmbeddings(self._pad(positive, length), self._pad(negative, length))

    def _pad(self, embeds: torch.Tensor, length: int) -> torch.Tensor:
        missing = (length - embeds.shape[1]) // self.window
        if missing <= 0:
            return embeds
        empty = self.provider.empty_z.to(device=embeds.device, dtype=embeds.dtype)
        return torch.cat([embeds, *[empty] * missing], dim=1)


_ENCODERS: WeakKeyDictionary[torch.nn.Module, PromptEncoder] = WeakKeyDictionary()


def prompt_encoder(pipe: Any) -> PromptEncoder | None:
    """The encoder for a pipeline with a CLIP text encoder (per-token hidden states, a fixed window); else None."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer, text_encoder = getattr(pipe, "tokenizer", None), getattr(pipe, "text_encoder", None)
    if tokenizer is None or not isinstance(text_encoder, CLIPTextModel | CLIPTextModelWithProjection):
        return None
    encoder = _ENCODERS.get(text_encoder)
    if encoder is None or encoder.provider.tokenizer is not tokenizer:
        encoder = _ENCODERS[text_encoder] = PromptEncoder(tokenizer, text_encoder)
    return encoder


def prompt_arguments(pipe: Any, prompt: str, negative_prompt: str, warnings: list[str]) -> dict[str, Any]:
    """Keyword arguments for a Stable-Diffusion-style call: embeddings when the encoder is CLIP-style, else text.

    A model without one (the LDM paper's BERT) gets the words without the syntax, and a warning when it was used.
    """
    encoder = prompt_encoder(pipe)
    if encoder is None:
        if has_emphasis(prompt) or has_emphasis(negative_prompt):
            warnings.append("this model's text encoder has no prompt emphasis; the brackets and weights were ignored")
        return {"prompt": plain_text(prompt), "negative_prompt": plain_text(negative_prompt) or None}
    embeddings = encoder(prompt, negative_prompt, pipe._execution_device)
    return {"prompt_embeds": embeddings.prompt_embeds, "negative_prompt_embeds": embeddings.negative_prompt_embeds}
