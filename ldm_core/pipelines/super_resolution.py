"""LDMSuperResolutionPipeline with a model-offload order (diffusers leaves it unset, so `--offload model` raised) and
an optional `strength`: start from the noised latent of the bicubic-upsampled input instead of pure noise."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import LDMSuperResolutionPipeline
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor

from ..spaces import downsampling_factor


def steps_to_run(num_inference_steps: int, strength: float) -> int:
    """UNet steps a run makes: the last `strength` of the schedule, at least one."""
    return max(1, min(num_inference_steps, round(num_inference_steps * min(strength, 1.0))))


def back_project(upscaled: np.ndarray, low_res: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Make an upscaled image agree with its input: repeat `x += up(low_res - down(x))` (iterative back-projection,
    Irani & Peleg 1991; the range-space step of DDNM, Wang et al. 2022). The generated detail stays; colours and low
    frequencies come from the input, which cures a diffusion upscaler's colour drift.

    `upscaled` (H, W, 3) and `low_res` (h, w, 3) are floats in [0, 1]; returns (H, W, 3) in [0, 1].
    """
    x = torch.from_numpy(np.ascontiguousarray(upscaled, dtype=np.float32)).permute(2, 0, 1)[None]
    low = torch.from_numpy(np.ascontiguousarray(low_res, dtype=np.float32)).permute(2, 0, 1)[None]
    for _ in range(iterations):
        down = F.interpolate(x, size=low.shape[-2:], mode="bicubic", antialias=True, align_corners=False)
        x = (x + F.interpolate(low - down, size=x.shape[-2:], mode="bicubic", align_corners=False)).clamp(0, 1)
    return x[0].permute(1, 2, 0).numpy()


class OffloadableSuperResolutionPipeline(LDMSuperResolutionPipeline):
    """The stock sampler, run on `_execution_device`: the stock `__call__` places its latents on `self.device`, which
    is the CPU under model offload and the meta device under sequential offload (the UNet's output then met CPU or
    meta latents in the scheduler: seen on a GPU)."""

    model_cpu_offload_seq = "unet->vqvae"

    @torch.no_grad()
    def __call__(
        self,
        image: torch.Tensor,
        *,
        strength: float = 1.0,
        num_inference_steps: int = 100,
        generator: torch.Generator | None = None,
        output_type: str = "np",
    ) -> ImagePipelineOutput:
        """strength 1.0: the stock sampler (pure noise, Sec. 4.4). Below 1: SDEdit-style, run the last `strength` of
        the schedule from the noised latent of the bicubic x4 image, so low frequencies (colours) come from the input.
        `image` is a (1, 3, h, w) tensor in [-1, 1]."""
        device, dtype = self._execution_device, self.unet.dtype
        image = image.to(device=device, dtype=dtype)
        # 1. timesteps: the last `strength` of the schedule
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        skip = num_inference_steps - steps_to_run(num_inference_steps, strength)
        timesteps = self.scheduler.timesteps[skip:]
        # 2. the starting latent: pure noise (as the stock pipeline), or the noised latent of the bicubic x4 image
        if strength >= 1.0:
            shape = (image.shape[0], self.unet.config.in_channels // 2, *image.shape[-2:])
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
            latents = latents * self.scheduler.init_noise_sigma
        else:
            factor = downsampling_factor(self.vqvae.config)
            upsampled = F.interpolate(image, scale_factor=factor, mode="bicubic", align_corners=False).clamp(-1, 1)
            encoded = self.vqvae.encode(upsampled)
            start = encoded.latent_dist.mode() if hasattr(encoded, "latent_dist") else encoded.latents
            if hasattr(self.scheduler, "set_begin_index"):
                self.scheduler.set_begin_index(skip * self.scheduler.order)
            noise = randn_tensor(start.shape, generator=generator, device=device, dtype=dtype)
            latents = self.scheduler.add_noise(start, noise, timesteps[:1])
        # 3. denoise with the low-res image concatenated (as the stock pipeline does)
        for t in self.progress_bar(timesteps):
            model_input = self.scheduler.scale_model_input(torch.cat([latents, image], dim=1), t)
            noise_pred = self.unet(model_input, t).sample
            latents = self.scheduler.step(noise_pred, t, latents).prev_sample
        # 4. decode (no scaling factor, like the stock pipeline)
        pixels = (self.vqvae.decode(latents).sample.clamp(-1, 1) / 2 + 0.5).cpu().permute(0, 2, 3, 1).float().numpy()
        return ImagePipelineOutput(images=self.numpy_to_pil(pixels) if output_type == "pil" else pixels)
