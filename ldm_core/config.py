"""Engine configuration: plain data, filled by the entry point (CLI flags), never read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .limits import Limits

Offload = Literal["auto", "none", "model", "sequential"]


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    preset: str = "builtin"  # see presets.PRESETS
    model_root: Path | str | None = None  # built-in family folder (default assets/builtin)
    sources: dict[str, str] | None = None  # per-task override: hub id, local diffusers folder or .safetensors file
    models_dir: Path | str | None = None  # the checkpoint picker's folder of .safetensors files (default models/)
    device: str = "auto"  # auto | cuda | cuda:1 | mps | cpu
    dtype: str = "auto"  # auto (fp16 on CUDA, fp32 elsewhere) | fp16 | bf16 | fp32
    offload: Offload = "auto"  # auto picks from free VRAM; model/sequential need an accelerator
    attention_slicing: bool = False
    vae_tiling: bool = False
    vae_slicing: bool = False
    outputs_dir: Path = field(default_factory=lambda: Path("outputs"))
    save_outputs: bool = True
    offline: bool = False  # never touch the hub: load only local folders and already-downloaded models
    cache_dir: Path | str | None = None  # hub cache; None: huggingface_hub's default
    limits: Limits = field(default_factory=Limits)  # per-request bounds (steps, batch, pixels, prompt, image sides)
