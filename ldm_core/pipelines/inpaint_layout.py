"""SD-inpainting layout for any latent width (the built-in family's 3-channel latents: a 3 + 1 + 3 = 7 channel UNet).

`StableDiffusionInpaintPipeline.__call__` only concatenates mask and masked-image latents for a UNet that reports 9
input channels (SD's 4 + 1 + 4). Rather than copying its 300-line `__call__`, the masked-image latents are padded
with zero channels up to that count, and the UNet is wrapped to report 9 and to read only its real leading channels
(latent, mask, masked-image latent, in that order).
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import UNet2DConditionModel
from diffusers.configuration_utils import FrozenDict

from .stable_diffusion import StableDiffusionInpaintPipeline

SD_INPAINT_CHANNELS = 9  # the only count StableDiffusionInpaintPipeline.__call__ concatenates for


class InpaintLayoutUNet(torch.nn.Module):
    """Reports SD_INPAINT_CHANNELS input channels; forwards the first `unet.config.in_channels` to `unet`."""

    def __init__(self, unet: UNet2DConditionModel):
        super().__init__()
        self.unet = unet
        self._config = FrozenDict({**unet.config, "in_channels": SD_INPAINT_CHANNELS})

    @property
    def config(self) -> FrozenDict:
        return self._config

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    @property
    def device(self) -> torch.device:
        return self.unet.device

    def set_attention_slice(self, slice_size: Any) -> None:
        self.unet.set_attention_slice(slice_size)

    def forward(self, sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        return self.unet(sample[:, : self.unet.config.in_channels], *args, **kwargs)


class LatentInpaintPipeline(StableDiffusionInpaintPipeline):
    """StableDiffusionInpaintPipeline for an InpaintLayoutUNet: pads masked-image latents to the 9-channel layout."""

    def prepare_mask_latents(self, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        mask, masked_image_latents = super().prepare_mask_latents(*args, **kwargs)
        missing = SD_INPAINT_CHANNELS - self.vae.config.latent_channels - mask.shape[1] - masked_image_latents.shape[1]
        if missing > 0:
            batch, _, height, width = masked_image_latents.shape
            padding = masked_image_latents.new_zeros(batch, missing, height, width)
            masked_image_latents = torch.cat([masked_image_latents, padding], dim=1)
        return mask, masked_image_latents
