"""Stages shared by the task recipes: seeds and generators, working sizes, the step monitor, the recipe output."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from diffusers import AutoencoderKL, SchedulerMixin
from PIL import Image
from transformers import CLIPTextModel, PreTrainedTokenizerBase

from ..progress import ProgressCallback, StepMonitor

if TYPE_CHECKING:  # the assembler imports the registry, which imports the recipes
    from ..assembly import LoadedTask

# Pipelines are built without the SD safety checker (the studio's models are not SD's; the user sees every image).
NO_SAFETY = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}


@dataclass
class TaskOutput:
    images: list[Image.Image]
    size: tuple[int, int]  # the size the model ran at (written as `Size:` in infotext)
    params: dict[str, Any] = field(default_factory=dict)  # task-specific infotext keys
    warnings: list[str] = field(default_factory=list)
    uses_guidance: bool = True


@dataclass
class FamilyParts:
    """The built-in family's shared components plus one task's UNet: what `family_pipeline` assembles."""

    unet: torch.nn.Module
    vae: AutoencoderKL
    scheduler: SchedulerMixin
    text_encoder: CLIPTextModel
    tokenizer: PreTrainedTokenizerBase

    def text_pipeline(self) -> dict[str, Any]:
        """Keywords of a Stable-Diffusion-style pipeline (text encoder and tokenizer included, no safety checker)."""
        return {
            "vae": self.vae,
            "unet": self.unet,
            "scheduler": self.scheduler,
            "text_encoder": self.text_encoder,
            "tokenizer": self.tokenizer,
            **NO_SAFETY,
        }


@dataclass
class RunContext:
    """What a recipe needs from the engine: the loaded pipeline, seeds, progress and cancellation."""

    loaded: LoadedTask
    seeds: list[int]  # image i of a batch uses seeds[i] == seed + i
    progress: ProgressCallback | None = None
    cancel: threading.Event | None = None

    def generators(self) -> list[torch.Generator]:
        """One CPU generator per image: image i is the same whether made alone or in a batch, on any device."""
        return [torch.Generator(device="cpu").manual_seed(seed) for seed in self.seeds]

    def monitor(self, total_steps: int) -> StepMonitor:
        """Progress/cancel hook on the denoiser for the duration of a `with` block."""
        loaded = self.loaded
        monitor = StepMonitor(total_steps, self.progress, self.cancel, loaded.latent_channels, loaded.vae_factor)
        return monitor.watching(loaded.denoiser)


def fit_size(width: int, height: int, native: int, multiple: int) -> tuple[int, int]:
    """Scale (width, height) so the longer side is `native`, keeping the aspect; snap both to `multiple`."""
    scale = native / max(width, height)
    return tuple(max(multiple, round(side * scale / multiple) * multiple) for side in (width, height))  # type: ignore[return-value]


def prompt_warnings(pipe: Any, prompt: str, field: str = "prompt") -> list[str]:
    """What the text encoder will not see: tokens past its window, and words outside its vocabulary."""
    tokenizer = getattr(pipe, "tokenizer", None)
    if tokenizer is None or not prompt.strip():
        return []
    warnings = []
    count, limit = len(tokenizer(prompt).input_ids), tokenizer.model_max_length
    if count > limit:
        warnings.append(f"the {field} is {count} tokens; the model reads only the first {limit}")
    unk = tokenizer.unk_token_id
    if unk is not None:
        words = dict.fromkeys(word.strip(".,;:!?()[]\"'").lower() for word in prompt.split())
        unknown = [w for w in words if w and tokenizer(w, add_special_tokens=False).input_ids == [unk]]
        if unknown:
            shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
            warnings.append(f"words in the {field} the model does not know (ignored): {shown}")
    return warnings
