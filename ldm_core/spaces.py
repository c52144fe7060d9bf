"""Facts about the pixel and latent spaces, computed here once: the downsampling factor of an autoencoder or a
UNet, and uint8 pixels to the [-1, 1] range the models read."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def downsampling_factor(config: Any) -> int:
    """Pixels per latent pixel of an autoencoder (f in Rombach et al. 2022, Sec. 3), or the total downsampling of a
    UNet: each block but the last halves the resolution."""
    return 2 ** (len(config.block_out_channels) - 1)


def to_model_range(pixels: torch.Tensor | np.ndarray, channels_last: bool = False) -> torch.Tensor:
    """uint8 pixels in [0, 255] -> float in [-1, 1], channels first; `channels_last` for (B, H, W, C) arrays."""
    if isinstance(pixels, np.ndarray):  # a copy of a read-only array (torch may not share memory it cannot write)
        pixels = np.ascontiguousarray(pixels) if pixels.flags.writeable else np.array(pixels)
    tensor = torch.from_numpy(pixels) if isinstance(pixels, np.ndarray) else pixels
    if channels_last:
        tensor = tensor.permute(0, 3, 1, 2)
    return tensor.float() / 127.5 - 1.0
