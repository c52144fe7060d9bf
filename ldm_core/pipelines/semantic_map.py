"""Semantic-map-to-image latent diffusion (Rombach et al. 2022, Sec. 4.3.2): the map is concatenated to the latents.

The condition is the per-cell class fraction at latent resolution (one-hot, then average-pooled by the autoencoder
factor f). Classifier-free guidance uses an all-zero condition as the unconditional input (training drops the map to
zeros 10% of the time).
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DiffusionPipeline, ImagePipelineOutput, SchedulerMixin, UNet2DModel
from diffusers.image_processor import VaeImageProcessor
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg
from diffusers.utils.torch_utils import randn_tensor

from ..spaces import downsampling_factor


def label_map_to_condition(label_map: torch.LongTensor, num_classes: int, factor: int) -> torch.FloatTensor:
    """(B, H, W) class ids -> (B, num_classes, H/f, W/f) class fractions per latent cell (one-hot, avg-pool by f)."""
    one_hot = F.one_hot(label_map.long(), num_classes).permute(0, 3, 1, 2).float()
    return F.avg_pool2d(one_hot, kernel_size=factor, stride=factor)


class LDMSemanticMapPipeline(DiffusionPipeline):
    """vae (AutoencoderKL) + unet (UNet2DModel, in = latent channels + classes) + scheduler."""

    model_cpu_offload_seq = "unet->vae"

    def __init__(self, vae: AutoencoderKL, unet: UNet2DModel, scheduler: SchedulerMixin):
        super().__init__()
        self.register_modules(vae=vae, unet=unet, scheduler=scheduler)
        self.vae_scale_factor = downsampling_factor(self.vae.config)
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor)

    @property
    def num_classes(self) -> int:
        return self.unet.config.in_channels - self.vae.config.latent_channels

    @property
    def size_multiple(self) -> int:
        """Label maps must divide by f and then by the UNet's downsampling (2 per down block but the last)."""
        return self.vae_scale_factor * downsampling_factor(self.unet.config)

    def check_inputs(self, label_map: torch.Tensor, num_inference_steps: int, guidance_scale: float) -> None:
        if not isinstance(label_map, torch.Tensor) or label_map.ndim != 3 or label_map.dtype.is_floating_point:
            raise ValueError(f"label_map must be an integer tensor (B, H, W), got {getattr(label_map, 'shape', None)}")
        height, width = label_map.shape[-2:]
        if height % self.size_multiple or width % self.size_multiple:
            raise ValueError(
                f"label_map height and width must be multiples of {self.size_multiple}, got {height}x{width}"
            )
        if label_map.numel() and (label_map.min() < 0 or label_map.max() >= self.num_classes):
            raise ValueError(f"label_map ids must be in 0..{self.num_classes - 1}, got {int(label_map.max())}")
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be at least 1, got {num_inference_steps}")
        if guidance_scale < 0:
            raise ValueError(f"guidance_scale must be non-negative, got {guidance_scale}")

    @torch.no_grad()
    def __call__(
        self,
        label_map: torch.LongTensor,
        num_inference_steps: int = 50,
        guidance_scale: float = 1.0,
        guidance_rescale: float = 0.0,
        eta: float = 0.0,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
    ) -> ImagePipelineOutput | tuple:
        # 1. Check inputs
        self.check_inputs(label_map, num_inference_steps, guidance_scale)
        device, dtype = self._execution_device, self.unet.dtype
        do_guidance = guidance_scale > 1.0

        # 2. Encode the condition: class fractions at latent resolution; all zeros is "no map"
        condition = label_map_to_condition(label_map.to(device), self.num_classes, self.vae_scale_factor).to(dtype)
        if do_guidance:
            condition = torch.cat([torch.zeros_like(condition), condition])

        # 3. Prepare timesteps
        self.scheduler.set_timesteps(num_inference_steps, device=device)

        # 4. Prepare latents
        batch, height, width = label_map.shape
        shape = (
            batch,
            self.vae.config.latent_channels,
            height // self.vae_scale_factor,
            width // self.vae_scale_factor,
        )
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        latents = latents.to(device=device, dtype=dtype) * self.scheduler.init_noise_sigma
        step_parameters = inspect.signature(self.scheduler.step).parameters
        step_options = {"eta": eta} if "eta" in step_parameters else {}
        if "generator" in step_parameters:
            step_options["generator"] = generator

        # 5. Denoise
        for t in self.progress_bar(self.scheduler.timesteps):
            model_input = torch.cat([latents] * 2) if do_guidance else latents
            model_input = self.scheduler.scale_model_input(model_input, t)
            noise_pred = self.unet(torch.cat([model_input, condition], dim=1), t).sample
            if do_guidance:
                noise_uncond, noise_cond = noise_pred.chunk(2)
                noise_pred = noise_uncond + guidance_scale * (noise_cond - noise_uncond)
                if guidance_rescale > 0:  # Lin et al. 2024, Sec. 3.4 (for zero-terminal-SNR models)
                    noise_pred = rescale_noise_cfg(noise_pred, noise_cond, guidance_rescale=guidance_rescale)
            latents = self.scheduler.step(noise_pred, t, latents, **step_options).prev_sample

        # 6. Decode
        if output_type == "latent":
            images = latents
        else:
            pixels = self.vae.decode(latents / self.vae.config.scaling_factor).sample
            images = self.image_processor.postprocess(pixels, output_type=output_type)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (images,)
        return ImagePipelineOutput(images=images)
