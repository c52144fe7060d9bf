"""Stages shared by the task recipes: seeds and generators, working sizes, the step monitor, the recipe output."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from diffusers import AutoencoderKL, SchedulerMixin
from PIL import Image
from transformers import CLIPTextModel, PreTrainedTokenizerBase

from ..limits import Limits
from ..progress import ProgressCallback, StepMonitor
from ..prompts import plain_text, prompt_arguments, prompt_encoder

if TYPE_CHECKING:  # the assembler imports the registry, which imports the recipes
    from ..assembly import LoadedTask
    from ..requests import GenerationRequest

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
    limits: Limits = field(default_factory=Limits)

    def generators(self) -> list[torch.Generator]:
        """One CPU generator per image: image i is the same whether made alone or in a batch, on any device."""
        return [torch.Generator(device="cpu").manual_seed(seed) for seed in self.seeds]

    def sampling(self, request: GenerationRequest) -> dict[str, Any]:
        """The pipeline arguments every prompted task passes alike: steps, guidance, batch, one generator per image."""
        return {
            "num_inference_steps": request.num_inference_steps,
            "guidance_scale": request.guidance_scale,
            "num_images_per_prompt": request.batch_size,
            "generator": self.generators(),
        }

    def monitor(self, total_steps: int) -> StepMonitor:
        """Progress/cancel hook on the denoiser for the duration of a `with` block."""
        loaded = self.loaded
        monitor = StepMonitor(total_steps, self.progress, self.cancel, loaded.latent_channels, loaded.vae_factor)
        return monitor.watching(loaded.denoiser)


def fit_size(width: int, height: int, native: int, multiple: int) -> tuple[int, int]:
    """Scale (width, height) so the longer side is `native`, keeping the aspect; snap both to `multiple`."""
    scale = native / max(width, height)
    return tuple(max(multiple, round(side * scale / multiple) * multiple) for side in (width, height))  # type: ignore[return-value]


def cap_size(width: int, height: int, longest: int, multiple: int) -> tuple[int, int]:
    """(width, height) snapped to `multiple`, scaled down (keeping the aspect) so no side exceeds `longest`."""
    scale = min(1.0, longest / max(width, height))
    most = max(multiple, longest // multiple * multiple)
    return tuple(min(most, max(multiple, round(side * scale / multiple) * multiple)) for side in (width, height))  # type: ignore[return-value]


def size_warning(size: tuple[int, int], native: int, what: str = "the model") -> list[str]:
    """A note when a side is past twice, or under half, the size the model was trained at."""
    if max(size) > 2 * native or min(size) < native / 2:
        return [
            f"{size[0]}x{size[1]} is far from the {native}x{native} {what} was trained at; expect repeated or "
            "broken-up content (larger) or lost detail (smaller)"
        ]
    return []


def prompt_warnings(pipe: Any, prompt: str, field: str = "prompt") -> list[str]:
    """What the text encoder will not see: tokens past its window (when it cannot read a prompt in several windows)
    and words outside its vocabulary; the emphasis brackets are not words."""
    tokenizer = getattr(pipe, "tokenizer", None)
    prompt = plain_text(prompt)
    if tokenizer is None or not prompt.strip():
        return []
    warnings = []
    count, limit = len(tokenizer(prompt).input_ids), tokenizer.model_max_length
    if count > limit and prompt_encoder(pipe) is None:
        warnings.append(f"the {field} is {count} tokens; the model reads only the first {limit}")
    unk = tokenizer.unk_token_id
    if unk is not None:
        words = dict.fromkeys(word.strip(".,;:!?()[]\"'").lower() for word in prompt.split())
        unknown = [w for w in words if w and tokenizer(w, add_special_tokens=False).input_ids == [unk]]
        if unknown:
            shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
            warnings.append(f"words in the {field} the model does not know (ignored): {shown}")
    return warnings


def prompt_inputs(pipe: Any, prompt: str, negative_prompt: str) -> tuple[dict[str, Any], list[str]]:
    """The pipeline's prompt arguments (weighted embeddings for CLIP encoders) and what to warn about both prompts."""
    warnings = prompt_warnings(pipe, prompt) + prompt_warnings(pipe, negative_prompt, "negative prompt")
    return prompt_arguments(pipe, prompt, negative_prompt, warnings), warnings
