"""Stable Diffusion 1.5's architecture with random weights, built from its published configs (nothing downloaded).

Speed and memory do not depend on the weights, so this measures what the sd15 preset would cost: on the GPU at
512x512 fp16 (it/s and peak VRAM per memory mode, and a fast mode), and on the CPU at 256x256 for a few steps.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from .common import PROMPT

logger = logging.getLogger(__name__)
GIB = 1024**3

# The configs of stable-diffusion-v1-5 (unet/, vae/, text_encoder/, scheduler/ config.json), as data.
SD15_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
}
SD15_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "act_fn": "silu",
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 512,
    "scaling_factor": 0.18215,
}
SD15_TEXT: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "projection_dim": 768,
}
SD15_SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
    "clip_sample": False,
    "set_alpha_to_one": False,
}
SD15_GUIDANCE = 7.5
# Same layout, a few thousand weights: lets the fast tests run every line of the builder and the step timer.
TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    "unet": {"block_out_channels": (32, 32, 64, 64), "cross_attention_dim": 32, "layers_per_block": 1},
    "vae": {"block_out_channels": (32, 32, 32, 32), "layers_per_block": 1},
    "text": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2},
}
# name -> (EngineConfig.offload, attention_slicing), applied through ldm_core.memory as the engine applies them
MEMORY_MODES = {
    "none": ("none", False),
    "attention_slicing": ("none", True),
    "model_offload": ("model", False),
    "sequential_offload": ("sequential", False),
    "auto": ("auto", False),
}


def build_sd15_pipeline(
    dtype: torch.dtype = torch.float32, overrides: dict[str, dict[str, Any]] | None = None, seed: int = 0
) -> StableDiffusionPipeline:
    """SD 1.5 from its configs, random weights, on the CPU in `dtype`; a local word-level tokenizer (77 tokens)."""
    from ldm_core.models import build_word_tokenizer

    overrides = overrides or {}
    torch.manual_seed(seed)
    tokenizer = build_word_tokenizer(PROMPT.replace(",", " ").split(), max_length=SD15_TEXT["max_position_embeddings"])
    special = {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id}
    special["eos_token_id"] = tokenizer.eos_token_id
    text_encoder = CLIPTextModel(CLIPTextConfig(**(SD15_TEXT | overrides.get("text", {}) | special)))
    unet = UNet2DConditionModel(**(SD15_UNET | overrides.get("unet", {})))
    vae = AutoencoderKL(**(SD15_VAE | overrides.get("vae", {})))
    pipe = StableDiffusionPipeline(
        vae=vae.to(dtype),
        text_encoder=text_encoder.to(dtype),
        tokenizer=tokenizer,
        unet=unet.to(dtype),
        scheduler=DDIMScheduler(**SD15_SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def parameter_counts(pipe: StableDiffusionPipeline) -> dict[str, float]:
    """Millions of parameters per model (SD 1.5: UNet 859.5, VAE 83.7, text encoder 123.1)."""
    models = {"unet": pipe.unet, "vae": pipe.vae, "text_encoder": pipe.text_encoder}
    return {name: round(sum(p.numel() for p in model.parameters()) / 1e6, 1) for name, model in models.items()}


def time_steps(pipe: StableDiffusionPipeline, steps: int, size: int, device: torch.device) -> dict[str, Any]:
    """One call at `size`: seconds per denoising step (between the ends of the first and the last step) and total.

    The step-end callback synchronises CUDA so the marks are real; steps must be at least 2.
    """
    ends: list[tuple[float, float]] = []  # (wall, process CPU) at the end of each step

    def on_step_end(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        ends.append((time.perf_counter(), time.process_time()))
        return kwargs

    started = time.perf_counter()
    pipe(
        prompt=PROMPT,
        height=size,
        width=size,
        num_inference_steps=steps,
        guidance_scale=SD15_GUIDANCE,
        generator=torch.Generator(device="cpu").manual_seed(0),
        output_type="np",
        callback_on_step_end=on_step_end,
    )
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    total = time.perf_counter() - started
    per_step = (ends[-1][0] - ends[0][0]) / (len(ends) - 1)
    cpu_per_step = (ends[-1][1] - ends[0][1]) / (len(ends) - 1)
    return {
        "seconds_per_step": round(per_step, 4),
        "cpu_seconds_per_step": round(cpu_per_step, 4),
        "it_per_s": round(1 / per_step, 3),
        "call_s": round(total, 3),
    }


def cpu_sd15(steps: int = 3, size: int = 256, overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """SD 1.5 on the CPU, fp32, batch 1 with classifier-free guidance (UNet batch 2), `steps` DDIM steps."""
    started = time.perf_counter()
    pipe = build_sd15_pipeline(torch.float32, overrides)
    built = time.perf_counter() - started
    timing = time_steps(pipe, max(2, steps), size, torch.device("cpu"))
    logger.info("SD 1.5 architecture on CPU at %d px: %.2f s/step", size, timing["seconds_per_step"])
    return timing | {
        "size": size,
        "steps": max(2, steps),
        "dtype": "fp32",
        "guidance_scale": SD15_GUIDANCE,
        "build_s": round(built, 2),
        "params_m": parameter_counts(pipe),
        "tiny": bool(overrides),
    }


def _cuda_run(pipe: StableDiffusionPipeline, steps: int, warmup_steps: int) -> dict[str, Any]:
    device = torch.device("cuda")
    time_steps(pipe, warmup_steps, 512, device)
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    timing = time_steps(pipe, steps, 512, device)
    peak = {"peak_allocated_gib": torch.cuda.max_memory_allocated(device) / GIB}
    peak["peak_reserved_gib"] = torch.cuda.max_memory_reserved(device) / GIB
    return timing | {key: round(value, 3) for key, value in peak.items()}


def _release() -> None:
    gc.collect()
    torch.cuda.empty_cache()


def fast_mode(pipe: StableDiffusionPipeline) -> StableDiffusionPipeline:
    """SDPA attention everywhere, channels_last weights, a compiled UNet (torch.compile, CUDA graphs)."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    pipe.unet.set_attn_processor(AttnProcessor2_0())
    pipe.vae.set_attn_processor(AttnProcessor2_0())
    pipe.unet.to(memory_format=torch.channels_last)
    pipe.vae.to(memory_format=torch.channels_last)
    pipe.unet = torch.compile(pipe.unet, mode="reduce-overhead", fullgraph=True)
    return pipe


def gpu_sd15(steps: int = 20) -> dict[str, Any]:
    """512x512 fp16 batch 1 on CUDA: it/s and peak VRAM per memory mode (via ldm_core.memory), then the fast mode."""
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA"}
    from ldm_core.memory import MemoryManager, resolve_runtime

    results: dict[str, Any] = {"gpu": torch.cuda.get_device_name(0), "size": 512, "dtype": "fp16", "batch": 1}
    results |= {"steps": steps, "guidance_scale": SD15_GUIDANCE, "modes": {}}
    for name, (offload, slicing) in MEMORY_MODES.items():
        runtime = resolve_runtime("cuda", "fp16", offload, slicing, False, False)
        pipe = build_sd15_pipeline(torch.float16)
        memory = MemoryManager(runtime)
        memory.place(pipe)
        memory.activate(pipe)
        results["modes"][name] = _cuda_run(pipe, steps, warmup_steps=2)
        results["modes"][name] |= {"memory_mode": runtime.offload, "notices": runtime.notices}
        logger.info("GPU %s: %.2f it/s", name, results["modes"][name]["it_per_s"])
        del pipe, memory
        _release()
    try:
        pipe = fast_mode(build_sd15_pipeline(torch.float16).to("cuda"))
        results["fast"] = _cuda_run(pipe, steps, warmup_steps=steps)  # the warm-up compiles at the measured shape
        results["fast_speedup"] = round(results["fast"]["it_per_s"] / results["modes"]["none"]["it_per_s"], 3)
        del pipe
    except Exception as error:  # compilation needs a working toolchain; the memory modes above still count
        logger.exception("fast mode failed")
        results["fast"] = {"error": f"{type(error).__name__}: {error}"[:500]}
    _release()
    return results
