"""Model builders for the built-in family: one place that fixes every architecture, used by training and test fixtures.

The family follows Rombach et al. 2022, Tab. 15: one KL-regularised autoencoder with f=4 and a 3-channel latent (the
paper's LDM-4, z = H/4 x W/4 x 3), UNets conditioned by cross-attention (text) or by concatenation (mask, semantic
map, low-resolution image). `size="tiny"` gives the same layouts with a few thousand weights, for tests.
"""

from __future__ import annotations

from typing import Literal

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel, UNet2DModel
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast

from .palette import NUM_CLASSES

Size = Literal["tiny", "full"]

LATENT_CHANNELS = 3  # LDMSuperResolutionPipeline needs unet.in_channels // 2 == latent channels (low-res RGB is 3)
VAE_FACTOR = 4
IMAGE_SIZE = 128  # native resolution of the built-in family
MAX_PROMPT_TOKENS = 32
SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")


def make_vae(size: Size = "full") -> AutoencoderKL:
    """KL autoencoder, f=4 (two downsamplings), 3 latent channels (Sec. 3.1)."""
    channels = (64, 128, 128) if size == "full" else (8, 16, 16)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=channels,
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=32 if size == "full" else 8,
        sample_size=IMAGE_SIZE if size == "full" else 32,
        scaling_factor=1.0,
    )


def make_scheduler() -> DDIMScheduler:
    """Training/inference noise schedule (Stable Diffusion's scaled-linear betas, 1000 steps, epsilon prediction)."""
    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="epsilon",
    )


def build_word_tokenizer(words: list[str], max_length: int = MAX_PROMPT_TOKENS) -> PreTrainedTokenizerFast:
    """A lower-case word-level tokenizer over a fixed vocabulary; unknown words map to <unk>."""
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for word in sorted({w.lower() for w in words}):
        vocab.setdefault(word, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", vocab["<bos>"]), ("<eos>", vocab["<eos>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<bos>",
        eos_token="<eos>",
        model_max_length=max_length,
    )


def make_text_encoder(tokenizer: PreTrainedTokenizerFast, size: Size = "full") -> CLIPTextModel:
    """A small CLIP-style text transformer, trained jointly with the text-to-image UNet (Sec. 3.3)."""
    hidden = 128 if size == "full" else 16
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=2 if size == "full" else 1,
        num_attention_heads=4 if size == "full" else 2,
        max_position_embeddings=tokenizer.model_max_length,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        projection_dim=hidden,
    )
    return CLIPTextModel(config)


def _unet_layout(in_channels: int, size: Size, channels: tuple[int, ...]) -> dict:
    """What every built-in UNet shares: 3 levels, one layer each, epsilon out in the latent space; tiny for tests."""
    full = size == "full"
    return dict(
        sample_size=IMAGE_SIZE // VAE_FACTOR if full else 8,
        in_channels=in_channels,
        out_channels=LATENT_CHANNELS,
        block_out_channels=channels if full else (16, 32, 32),
        layers_per_block=1,
        attention_head_dim=32 if full else 8,
        norm_num_groups=32 if full else 8,
    )


def _cross_attention_unet(in_channels: int, cross_attention_dim: int, size: Size) -> UNet2DConditionModel:
    """Text by cross-attention at 16x16 and 8x8, and a pooled text embedding added to the timestep embedding (as in
    Imagen and SDXL), which conditions every ResNet block: global attributes (time of day) need no spatial query."""
    layout = _unet_layout(in_channels, size, (64, 96, 96))
    # UNet2DConditionModel reads `attention_head_dim` as the number of heads (a naming quirk kept for SD's configs):
    # pass heads so that every head really has `attention_head_dim` channels (32 heads of 3 channels otherwise).
    layout["attention_head_dim"] = layout["block_out_channels"][-1] // layout["attention_head_dim"]
    unet = UNet2DConditionModel(
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        addition_embed_type="text",
        addition_embed_type_num_heads=max(1, cross_attention_dim // 32),
        **layout,
    )
    with torch.no_grad():  # the pooled branch starts silent: a UNet loaded into this layout keeps its function
        unet.add_embedding.norm2.weight.zero_()
    return unet


def make_unet_text(cross_attention_dim: int, size: Size = "full") -> UNet2DConditionModel:
    """Text-to-image UNet: latent in, epsilon out, text by cross-attention."""
    return _cross_attention_unet(LATENT_CHANNELS, cross_attention_dim, size)


def make_unet_inpaint(cross_attention_dim: int, size: Size = "full") -> UNet2DConditionModel:
    """Inpainting UNet: latent + mask + masked-image latent concatenated (Sec. 4.5), as SD-inpainting lays it out."""
    return _cross_attention_unet(2 * LATENT_CHANNELS + 1, cross_attention_dim, size)


def _concat_unet(in_channels: int, size: Size, channels: tuple[int, ...] = (64, 96, 96)) -> UNet2DModel:
    return UNet2DModel(
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        **_unet_layout(in_channels, size, channels),
    )


def make_unet_semantic(size: Size = "full") -> UNet2DModel:
    """Semantic-map UNet: latent + per-class area fractions at latent resolution, concatenated (Sec. 4.3.2)."""
    return _concat_unet(LATENT_CHANNELS + NUM_CLASSES, size)


def make_unet_upscale(size: Size = "full") -> UNet2DModel:
    """x4 super-resolution UNet: latent + low-res RGB at latent size (Sec. 4.4), for LDMSuperResolutionPipeline."""
    # Runs on the full output-size latent (128x128 for a 512 px result): a light first level keeps x4 fast on a CPU.
    return _concat_unet(2 * LATENT_CHANNELS, size, channels=(32, 64, 96))
