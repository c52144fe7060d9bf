"""Tiny random models in the folder layouts of the sd15 and ldm-paper presets' sources (for loader tests only)."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    ControlNetModel,
    DDIMScheduler,
    LDMSuperResolutionPipeline,
    LDMTextToImagePipeline,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion import LDMBertConfig, LDMBertModel

from ldm_core import models
from ldm_core.family import TINY_VOCABULARY


def _sd_vae() -> AutoencoderKL:
    """f=8 and 4 latent channels, as SD 1.5's autoencoder."""
    return AutoencoderKL(
        block_out_channels=(8, 8, 8, 8),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=8,
        layers_per_block=1,
        sample_size=64,
    )


def _sd_unet(in_channels: int, cross_attention_dim: int) -> UNet2DConditionModel:
    return UNet2DConditionModel(
        sample_size=8,
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def build_other_layouts(root: Path) -> dict[str, Path]:
    torch.manual_seed(0)
    tokenizer = models.build_word_tokenizer(list(TINY_VOCABULARY))
    text_encoder = models.make_text_encoder(tokenizer, "tiny")
    cross = text_encoder.config.hidden_size
    unet = _sd_unet(4, cross)
    scheduler = models.make_scheduler()
    no_safety = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
    base = StableDiffusionPipeline(
        vae=_sd_vae(), text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler, **no_safety
    )
    paths = {name: root / name for name in ("sd15", "sd15-inpaint", "controlnet-seg", "ldm-sr", "ldm-text")}
    base.save_pretrained(paths["sd15"])
    StableDiffusionInpaintPipeline.from_pipe(base, unet=_sd_unet(9, cross)).save_pretrained(paths["sd15-inpaint"])
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 8, 8, 8))
    controlnet.save_pretrained(paths["controlnet-seg"])
    upscaler = LDMSuperResolutionPipeline(
        vqvae=models.make_vae("tiny"), unet=models.make_unet_upscale("tiny"), scheduler=DDIMScheduler()
    )
    upscaler.save_pretrained(paths["ldm-sr"])
    bert_config = LDMBertConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=77,
        encoder_layers=1,
        encoder_ffn_dim=16,
        encoder_attention_heads=2,
        head_dim=8,
        d_model=16,
    )
    ldm = LDMTextToImagePipeline(
        vqvae=_sd_vae(),
        bert=LDMBertModel(bert_config),
        tokenizer=tokenizer,
        unet=_sd_unet(4, 16),
        scheduler=DDIMScheduler(),
    )
    ldm.save_pretrained(paths["ldm-text"])
    return paths


def build_tiny_sd15_file(root: Path) -> tuple[Path, Path]:
    """A tiny SD 1.x checkpoint in the original (A1111) key layout, and a config folder that describes it in the
    shipped configs' layout (to stand in for assets/configs in tests). Cross-attention stays 768 wide, as SD 1.x's."""
    import json
    import shutil

    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    from benchmarks.original_layout import sd15_to_original
    from benchmarks.random_weights import materialise
    from benchmarks.sd15 import SD15_UNET, SD15_VAE, TINY_OVERRIDES
    from ldm_core.single_file import CONFIG_ROOT

    torch.manual_seed(0)
    configs = root / "configs"
    shutil.copytree(CONFIG_ROOT, configs)
    unet = UNet2DConditionModel(
        **(SD15_UNET | TINY_OVERRIDES["unet"] | {"layers_per_block": 2, "sample_size": 8, "cross_attention_dim": 768})
    )
    vae = AutoencoderKL(**(SD15_VAE | TINY_OVERRIDES["vae"] | {"layers_per_block": 2, "sample_size": 64}))
    text_config = json.loads((CONFIG_ROOT / "stable-diffusion-v1-5" / "text_encoder" / "config.json").read_text())
    text_config |= {"intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    with torch.device("meta"):  # 49,408 x 768 embeddings: fill cheaply instead of running the initialiser
        text_encoder = CLIPTextModel(CLIPTextConfig(**text_config))
    text_encoder = materialise(text_encoder, torch.float32)
    for folder in ("stable-diffusion-v1-5", "stable-diffusion-inpainting"):
        unet.save_config(configs / folder / "unet")
        vae.save_config(configs / folder / "vae")
        (configs / folder / "text_encoder" / "config.json").write_text(json.dumps(text_config))
    state = sd15_to_original(unet.state_dict(), vae.state_dict(), text_encoder.state_dict())
    path = root / "models" / "tiny-sd15.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: tensor.half().contiguous() for name, tensor in state.items()}, str(path))
    return path, configs
