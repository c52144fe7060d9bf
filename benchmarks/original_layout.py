"""diffusers state dicts -> the original CompVis / A1111 checkpoint key layout (SD 1.x UNet, VAE, CLIP text encoder,
and a ControlNet), so the fixtures include the files people actually download. The inverse of what diffusers'
`from_single_file` converts; the full-size tests check the round trip by comparing images.
"""

from __future__ import annotations

import re

import torch

LEVELS = 4  # SD 1.x: four resolution levels, two ResNets per down level, three per up level
RESNET_PARTS = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
SCHEDULE_BUFFERS = 1000  # the original files also carry the training noise schedule (betas, alphas_cumprod, ...)


def _unet_block(name: str) -> str:
    """One UNet (or ControlNet) parameter name, diffusers -> original."""
    for new, old in UNET_FIXED.items():
        if name.startswith(new + "."):
            return old + name[len(new) :]
    if match := re.match(r"down_blocks\.(\d)\.(resnets|attentions)\.(\d)\.(.*)", name):
        level, part, index, rest = int(match[1]), match[2], int(match[3]), match[4]
        block = f"input_blocks.{3 * level + index + 1}"
        return f"{block}.0.{_resnet(rest)}" if part == "resnets" else f"{block}.1.{rest}"
    if match := re.match(r"down_blocks\.(\d)\.downsamplers\.0\.conv\.(.*)", name):
        return f"input_blocks.{3 * (int(match[1]) + 1)}.0.op.{match[2]}"
    if match := re.match(r"up_blocks\.(\d)\.(resnets|attentions)\.(\d)\.(.*)", name):
        level, part, index, rest = int(match[1]), match[2], int(match[3]), match[4]
        block = f"output_blocks.{3 * level + index}"
        return f"{block}.0.{_resnet(rest)}" if part == "resnets" else f"{block}.1.{rest}"
    if match := re.match(r"up_blocks\.(\d)\.upsamplers\.0\.(.*)", name):
        level = int(match[1])
        return f"output_blocks.{3 * level + 2}.{1 if level == 0 else 2}.{match[2]}"
    if match := re.match(r"mid_block\.resnets\.(\d)\.(.*)", name):
        return f"middle_block.{2 * int(match[1])}.{_resnet(match[2])}"
    if name.startswith("mid_block.attentions.0."):
        return "middle_block.1." + name.removeprefix("mid_block.attentions.0.")
    raise KeyError(f"no original name for UNet parameter {name}")


def _resnet(rest: str) -> str:
    part, _, tail = rest.partition(".")
    return f"{RESNET_PARTS[part]}.{tail}"


def unet_to_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"model.diffusion_model." + _unet_block(name): tensor for name, tensor in state.items()}


def vae_to_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Autoencoder: reversed up-block order, `block`/`mid.block_N`, and 1x1 convs for the mid attention."""
    converted = {}
    for name, tensor in state.items():
        new = name.replace("conv_shortcut", "nin_shortcut").replace("conv_norm_out", "norm_out")
        if match := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)", new):
            part, _, tail = match[2].rpartition(".")
            new = f"{match[1]}.mid.attn_1.{VAE_ATTENTION[part]}.{tail}"
            if tail == "weight" and tensor.ndim == 2:
                tensor = tensor[:, :, None, None]
        elif match := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d)\.(.*)", new):
            new = f"{match[1]}.mid.block_{int(match[2]) + 1}.{match[3]}"
        elif match := re.match(r"encoder\.down_blocks\.(\d)\.resnets\.(\d)\.(.*)", new):
            new = f"encoder.down.{match[1]}.block.{match[2]}.{match[3]}"
        elif match := re.match(r"encoder\.down_blocks\.(\d)\.downsamplers\.0\.(.*)", new):
            new = f"encoder.down.{match[1]}.downsample.{match[2]}"
        elif match := re.match(r"decoder\.up_blocks\.(\d)\.resnets\.(\d)\.(.*)", new):
            new = f"decoder.up.{LEVELS - 1 - int(match[1])}.block.{match[2]}.{match[3]}"
        elif match := re.match(r"decoder\.up_blocks\.(\d)\.upsamplers\.0\.(.*)", new):
            new = f"decoder.up.{LEVELS - 1 - int(match[1])}.upsample.{match[2]}"
        converted["first_stage_model." + new] = tensor
    return converted


def text_encoder_to_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CLIP ViT-L/14 text model: the transformers names under `cond_stage_model.transformer.text_model.`."""
    converted = {"cond_stage_model.transformer.text_model." + name: tensor for name, tensor in state.items()}
    converted["cond_stage_model.transformer.text_model.embeddings.position_ids"] = torch.arange(77)[None]
    return converted


def schedule_buffers(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """SD 1.x's scaled-linear schedule, as the original training code stores it beside the weights."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, SCHEDULE_BUFFERS, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    previous = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
    buffers = {"betas": betas, "alphas_cumprod": alphas_cumprod, "alphas_cumprod_prev": previous}
    buffers["sqrt_alphas_cumprod"] = alphas_cumprod.sqrt()
    buffers["sqrt_one_minus_alphas_cumprod"] = (1 - alphas_cumprod).sqrt()
    return {name: value.to(dtype) for name, value in buffers.items()}


def sd15_to_original(
    unet: dict[str, torch.Tensor], vae: dict[str, torch.Tensor], text_encoder: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """One A1111-style SD 1.x state dict (as in v1-5-pruned-emaonly.safetensors)."""
    dtype = next(iter(unet.values())).dtype
    return (
        unet_to_original(unet) | vae_to_original(vae) | text_encoder_to_original(text_encoder) | schedule_buffers(dtype)
    )


def controlnet_to_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A ControlNet as lllyasviel's v1.1 files lay it out (`control_model.` prefix, zero convs, input hint block)."""
    converted = {}
    for name, tensor in state.items():
        if match := re.match(r"controlnet_cond_embedding\.(conv_in|conv_out|blocks\.(\d+))\.(.*)", name):
            index = 0 if match[1] == "conv_in" else 14 if match[1] == "conv_out" else 2 * int(match[2]) + 2
            new = f"input_hint_block.{index}.{match[3]}"
        elif match := re.match(r"controlnet_down_blocks\.(\d+)\.(.*)", name):
            new = f"zero_convs.{match[1]}.0.{match[2]}"
        elif name.startswith("controlnet_mid_block."):
            new = "middle_block_out.0." + name.removeprefix("controlnet_mid_block.")
        else:
            new = _unet_block(name)
        converted["control_model." + new] = tensor
    return converted
