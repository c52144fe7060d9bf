"""Where each word attends (LDM Sec. 3.3): cross-attention probabilities softmax(QKᵀ/√d) per text token, averaged over
heads, layers and denoising steps, upsampled to the latent grid: the DAAM method (Tang et al. 2022, Sec. 3).

An attention processor that records the probabilities is installed on the shared UNet's cross-attention layers for
one request, under the engine's lock, and the previous processors are put back afterwards.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention
from PIL import Image

from ..errors import InvalidRequestError
from ..requests import GenerationResult, TextToImageRequest

# A perceptually ordered map (black, purple, red, orange, yellow) for the heat overlays.
HEAT_ANCHORS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32)
OVERLAY_ALPHA = 0.6


class AttentionMaps:
    """Running sum of per-token maps (T, h, w) on the latent grid, one term per cross-attention call."""

    def __init__(self, latent_size: tuple[int, int], batch_size: int = 1):
        self.height, self.width = latent_size
        self.batch_size = batch_size
        self.total: torch.Tensor | None = None
        self.calls = 0

    def add(self, probabilities: torch.Tensor, heads: int) -> None:
        """probabilities: (batch·heads, h·w, T); with guidance the batch is [unconditional, conditional]."""
        batch = probabilities.shape[0] // heads
        queries, tokens = probabilities.shape[1:]
        index = self.batch_size if batch == 2 * self.batch_size else 0  # the conditional half, first image
        per_query = probabilities.reshape(batch, heads, queries, tokens)[index].float().mean(0)  # (h·w, T)
        scale = math.sqrt(self.height * self.width / queries)
        height = round(self.height / scale)
        width = queries // max(height, 1)
        if height * width != queries:
            return  # a layout this grid cannot be read as (never met in UNet2DConditionModel)
        maps = per_query.T.reshape(tokens, 1, height, width)
        maps = F.interpolate(maps, size=(self.height, self.width), mode="bilinear", align_corners=False)[:, 0]
        self.total = maps if self.total is None else self.total + maps
        self.calls += 1

    def mean(self) -> torch.Tensor:
        if self.total is None:
            raise InvalidRequestError("model", "no cross-attention", "the text model has no cross-attention layers")
        return (self.total / self.calls).cpu()


class CrossAttentionRecorder:
    """diffusers' AttnProcessor (the explicit softmax), also handing each cross-attention's probabilities to
    `maps`. Self-attention layers keep their own processors."""

    def __init__(self, maps: AttentionMaps):
        self.maps = maps
        self.thread = threading.get_ident()

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        batch_size, sequence_length, _ = context.shape
        attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        key, value = attn.to_k(context), attn.to_v(context)
        query, key, value = attn.head_to_batch_dim(query), attn.head_to_batch_dim(key), attn.head_to_batch_dim(value)
        probabilities = attn.get_attention_scores(query, key, attention_mask)
        if encoder_hidden_states is not None and threading.get_ident() == self.thread:
            self.maps.add(probabilities, attn.heads)
        hidden_states = attn.batch_to_head_dim(torch.bmm(probabilities, value))
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


@dataclass(frozen=True)
class Word:
    text: str
    positions: tuple[int, ...]  # token positions in the encoded prompt (after the start token)
    known: bool = True  # False: the tokenizer maps it to its unknown token
    occurrence: int = 1  # the n-th time this word appears in the prompt


def prompt_words(tokenizer: Any, prompt: str) -> list[Word]:
    """The prompt's words with the token positions each occupies (a word may be several BPE pieces); punctuation
    that is a token of its own becomes its own entry. Words past the text encoder's window are left out."""
    limit = tokenizer.model_max_length - 1  # the last position holds the end token
    unknown = getattr(tokenizer, "unk_token_id", None)
    words, position, seen = [], 1, {}  # position 0 is the start token
    for text in re.findall(r"[\w'-]+|[^\w\s]", prompt):
        ids = tokenizer(text, add_special_tokens=False).input_ids
        if not ids:
            continue
        positions = tuple(p for p in range(position, position + len(ids)) if p < limit)
        if positions:
            seen[text.lower()] = seen.get(text.lower(), 0) + 1
            words.append(Word(text, positions, known=ids != [unknown], occurrence=seen[text.lower()]))
        position += len(ids)
    return words


@dataclass(frozen=True)
class WordMap:
    word: Word
    heat: np.ndarray  # (h, w) on the latent grid, summed over the word's tokens: the DAAM map before upsampling
    overlay: Image.Image  # the DAAM map over the image

    @property
    def label(self) -> str:
        """The word, numbered from its second appearance ("a #2"), marked when the model does not know it."""
        text = self.word.text + (f" #{self.word.occurrence}" if self.word.occurrence > 1 else "")
        return text + ("" if self.word.known else " (unknown to the model)")


@dataclass
class AttentionResult:
    image: Image.Image
    words: list[WordMap]
    result: GenerationResult
    calls: int  # cross-attention calls averaged (layers × steps)

    def word(self, text: str) -> WordMap:
        for item in self.words:
            if text.lower() in (item.word.text.lower(), item.label.lower()):
                return item
        raise InvalidRequestError("word", text, f"must be a word of the prompt: {', '.join(self.labels())}")

    def labels(self) -> list[str]:
        return [item.word.text for item in self.words]


def heat_colours(heat: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) float RGB along HEAT_ANCHORS."""
    position = np.clip(heat, 0, 1) * (len(HEAT_ANCHORS) - 1)
    low = np.floor(position).astype(int).clip(0, len(HEAT_ANCHORS) - 2)
    fraction = (position - low)[..., None]
    return HEAT_ANCHORS[low] * (1 - fraction) + HEAT_ANCHORS[low + 1] * fraction


def upsample(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) -> (H, W) bicubic, as DAAM upsamples its maps; size is (width, height)."""
    tensor = torch.from_numpy(np.ascontiguousarray(heat, dtype=np.float32))[None, None]
    return F.interpolate(tensor, size=(size[1], size[0]), mode="bicubic", align_corners=False)[0, 0].numpy()


def daam_map(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A word's map as DAAM presents it (daam's `expand_image`): upsampled bicubically to `size` (width, height),
    clamped at 0 and stretched from its minimum to its maximum, so the part every position shares drops out."""
    big = upsample(heat, size).clip(min=0)
    return (big - big.min()) / max(float(big.max() - big.min()), 1e-12)


def overlay(image: Image.Image, heat: np.ndarray) -> Image.Image:
    """The image under the word's DAAM map."""
    big = daam_map(heat, image.size)
    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    mixed = base * (1 - OVERLAY_ALPHA) + heat_colours(big) * OVERLAY_ALPHA
    return Image.fromarray(mixed.round().clip(0, 255).astype(np.uint8))


def attention_maps(
    engine: Any,
    request: TextToImageRequest,
    progress: Callable | None = None,
    cancel: threading.Event | None = None,
    owner: str | None = None,
) -> AttentionResult:
    """Generate one image for `request` (saved for `owner` like any run) and return each prompt word's
    cross-attention map over it."""
    if not isinstance(request, TextToImageRequest):
        raise InvalidRequestError("request", type(request).__name__, "must be a TextToImageRequest (a text prompt)")
    if not request.prompt.strip():
        raise InvalidRequestError("prompt", request.prompt, "must name something to see where its words attend")
    request = dataclasses.replace(request, batch_size=1)
    with engine.inspecting("text2img") as loaded:
        unet = loaded.denoiser
        if not hasattr(unet, "set_attn_processor"):
            raise InvalidRequestError("model", type(unet).__name__, "has no attention processors to record")
        width, height = request.width or loaded.native_size, request.height or loaded.native_size
        words = prompt_words(loaded.pipe.tokenizer, request.prompt)
        maps = AttentionMaps((height // loaded.vae_factor, width // loaded.vae_factor))
        originals = unet.attn_processors
        recorder = CrossAttentionRecorder(maps)
        unet.set_attn_processor(
            {name: recorder if name.endswith("attn2.processor") else proc for name, proc in originals.items()}
        )
        try:
            result = engine.run(request, progress=progress, cancel=cancel, owner=owner)
        finally:
            unet.set_attn_processor(originals)
    mean = maps.mean().numpy()
    image = result.images[0]
    word_maps = []
    for word in words:
        heat = mean[list(word.positions)].sum(0)
        word_maps.append(WordMap(word, heat, overlay(image, heat)))
    return AttentionResult(image, word_maps, result, maps.calls)


def attention_share(heat: np.ndarray, mask: np.ndarray, normalised: bool = True) -> float:
    """The fraction of a word's attention that falls inside `mask`: of its DAAM map (default), or of the raw
    averaged probabilities (upsampled to the mask's size)."""
    size = (mask.shape[1], mask.shape[0])
    big = daam_map(heat, size) if normalised else upsample(heat, size).clip(min=0)
    return float(big[mask].sum() / max(float(big.sum()), 1e-12))
