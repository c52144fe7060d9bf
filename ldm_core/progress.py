"""Progress, live preview and cancellation for every pipeline, through a forward pre-hook on its denoiser.

The hook fires before each UNet call, so it works for pipelines without `callback_on_step_end` (the LDM ones) and
stops a cancelled run within one step, before anything is decoded or saved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import numpy as np
import torch
from PIL import Image

from .errors import CancelledError
from .requests import ProgressEvent

ProgressCallback = Callable[[ProgressEvent], None]
# Stable Diffusion's 4-channel latents -> RGB, a least-squares fit widely used for previews (A1111 "Approx NN" cheap).
SD_LATENT_RGB = torch.tensor(
    [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]]
)
PREVIEW_MAX_EDGE = 256


def latents_to_preview(latents: torch.Tensor, upscale: int) -> Image.Image:
    """(C, h, w) latents -> RGB by a fixed linear map (SD factors for 4 channels, per-image range for 3), upsampled."""
    latents = latents.detach().float().cpu()
    if latents.shape[0] == SD_LATENT_RGB.shape[0]:
        rgb = torch.einsum("chw,cr->rhw", latents, SD_LATENT_RGB)
        rgb = ((rgb + 1) / 2).clamp(0, 1)
    else:
        rgb = latents[:3]
        low, high = rgb.amin(), rgb.amax()
        rgb = (rgb - low) / (high - low).clamp_min(1e-6)
    pixels = (rgb.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels)
    scale = max(1, min(upscale, PREVIEW_MAX_EDGE // max(image.size)))
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


class StepMonitor:
    """Counts denoiser calls as steps; reports ProgressEvent(step, total, preview); raises CancelledError on cancel."""

    def __init__(
        self,
        total_steps: int,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        latent_channels: int,
        preview_upscale: int,
    ):
        self.total_steps = max(1, total_steps)
        self.progress, self.cancel = progress, cancel
        self.latent_channels, self.preview_upscale = latent_channels, preview_upscale
        self.step = 0
        self._module: torch.nn.Module | None = None
        self._handles: list[Any] = []

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise CancelledError("Cancelled by the user; nothing was saved.")

    def watching(self, module: torch.nn.Module) -> StepMonitor:
        """The module whose calls are steps; the hook lives from `__enter__` to `__exit__`."""
        self._module = module
        return self

    def __enter__(self) -> StepMonitor:
        self.check_cancel()
        if self._module is not None:
            self._handles.append(self._module.register_forward_pre_hook(self._before_step, with_kwargs=True))
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _before_step(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        self.check_cancel()
        if self.progress is None:
            self.step += 1
            return
        sample = args[0] if args else kwargs.get("sample")
        preview = None
        if isinstance(sample, torch.Tensor) and sample.ndim == 4:
            preview = latents_to_preview(sample[0, : self.latent_channels], self.preview_upscale)
        self.total_steps = max(self.total_steps, self.step + 1)
        self.progress(ProgressEvent(step=self.step, total_steps=self.total_steps, preview=preview))
        self.step += 1

    def finish(self) -> None:
        """After the last step: a final 100% event (no preview: the decoded image follows)."""
        self.check_cancel()
        if self.progress is not None:
            self.progress(ProgressEvent(step=self.total_steps, total_steps=self.total_steps, preview=None))
