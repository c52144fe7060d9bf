"""LDMSuperResolutionPipeline with a model-offload order (diffusers leaves it unset, so `--offload model` raised)."""

from __future__ import annotations

from diffusers import LDMSuperResolutionPipeline


class OffloadableSuperResolutionPipeline(LDMSuperResolutionPipeline):
    model_cpu_offload_seq = "unet->vqvae"
