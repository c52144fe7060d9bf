"""The built-in family on disk: one folder of diffusers subfolders (vae/, tokenizer/, unet*/ ...) plus family.json.

Training writes it with `save_family`; tests write the same layout with tiny random weights (`build_random_family`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, SchedulerMixin, UNet2DConditionModel, UNet2DModel
from transformers import CLIPTextModel, PreTrainedTokenizerBase

from . import models
from .palette import CLASS_NAMES
from .registry import TASKS

FAMILY_FILE = "family.json"
UNET_FOLDERS = {name: spec.family_unet for name, spec in TASKS.items() if spec.family_unet is not None}
SCHEDULER_FOLDERS = {task: f"scheduler_{task}" for task in UNET_FOLDERS}  # a task's own schedule, when it has one
TINY_VOCABULARY = tuple(CLASS_NAMES) + ("a", "the", "with", "and", "of", "photo", "landscape", "blue", "green")


def task_sampling(metadata: dict[str, Any], task: str) -> dict[str, Any]:
    """`family.json`'s sampling entry for `task`: its own, else that of a task sharing its UNet (a schedule belongs to
    the UNet that was trained on it: image-to-image samples the text-to-image UNet with the text-to-image schedule)."""
    sampling = metadata.get("sampling", {})
    sharing = [task] + [other for other, folder in UNET_FOLDERS.items() if folder == UNET_FOLDERS.get(task)]
    return next((sampling[name] for name in sharing if name in sampling), {})


def save_family(
    root: str | Path,
    *,
    vae: AutoencoderKL,
    tokenizer: PreTrainedTokenizerBase,
    text_encoder: CLIPTextModel,
    scheduler: SchedulerMixin,
    dtype: torch.dtype = torch.float16,
    metadata: dict[str, Any] | None = None,
    task_schedulers: dict[str, SchedulerMixin] | None = None,
    guidance_rescale: dict[str, float] | None = None,
    **unets_by_folder: UNet2DConditionModel | UNet2DModel | None,
) -> Path:
    """Write the family layout under `root`; weights are stored in `dtype` (the in-memory modules are not changed).

    The UNets come by their folder name (`unet=`, `unet_inpaint=`, ... as the registry's `family_unet`); a task
    without one is left out of the family. `scheduler` is every task's noise schedule unless `task_schedulers` gives
    a task its own (e.g. a UNet trained with v-prediction on zero-terminal-SNR betas, sampled with trailing
    timesteps); `guidance_rescale` asks for rescaled classifier-free guidance on a task (Lin et al. 2024, Sec. 3.4).
    Both are recorded under family.json's `sampling`."""
    unknown = sorted(set(unets_by_folder) - set(UNET_FOLDERS.values()))
    if unknown:
        raise TypeError(f"save_family got unknown UNet folder(s) {', '.join(unknown)}; known: {UNET_FOLDERS}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    given = {folder: unet for folder, unet in unets_by_folder.items() if unet is not None}
    unets = {task: given[folder] for task, folder in UNET_FOLDERS.items() if folder in given}
    modules: dict[str, torch.nn.Module] = {"vae": vae, "text_encoder": text_encoder}
    modules.update({UNET_FOLDERS[task]: module for task, module in unets.items()})
    for folder, module in modules.items():
        _save_module(module, root / folder, dtype)
    tokenizer.save_pretrained(root / "tokenizer")
    scheduler.save_pretrained(root / "scheduler")
    sampling: dict[str, dict[str, Any]] = {}
    for task, task_scheduler in (task_schedulers or {}).items():
        task_scheduler.save_pretrained(root / SCHEDULER_FOLDERS[task])
        sampling.setdefault(task, {})["scheduler"] = SCHEDULER_FOLDERS[task]
    for task, phi in (guidance_rescale or {}).items():
        if phi:
            sampling.setdefault(task, {})["guidance_rescale"] = float(phi)
    family = {
        "tasks": sorted(unets),
        "unets": {task: UNET_FOLDERS[task] for task in unets},
        "image_size": models.IMAGE_SIZE,
        "vae_factor": models.VAE_FACTOR,
        "latent_channels": models.LATENT_CHANNELS,
        "classes": list(CLASS_NAMES),
        "weights_dtype": str(dtype).removeprefix("torch."),
        **({"sampling": sampling} if sampling else {}),
        **(metadata or {}),
    }
    (root / FAMILY_FILE).write_text(json.dumps(family, indent=2) + "\n")
    return root


def _save_module(module: torch.nn.Module, folder: Path, dtype: torch.dtype) -> None:
    """save_pretrained in `dtype` from a copy: the caller's module keeps its full-precision weights (a round trip
    through fp16 in place would round them)."""
    copy.deepcopy(module).to(dtype).save_pretrained(folder)


def build_random_family(root: str | Path, size: models.Size = "tiny", seed: int = 0, **options: Any) -> Path:
    """A complete family with random weights (every task present): the fixture for tests and UI smoke runs.
    `options` go to save_family (e.g. task_schedulers, guidance_rescale)."""
    torch.manual_seed(seed)
    tokenizer = models.build_word_tokenizer(list(TINY_VOCABULARY))
    text_encoder = models.make_text_encoder(tokenizer, size)
    cross_attention_dim = text_encoder.config.hidden_size
    return save_family(
        root,
        vae=models.make_vae(size),
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        scheduler=models.make_scheduler(),
        metadata={"random_weights": True, "size": size, "seed": seed},
        unet=models.make_unet_text(cross_attention_dim, size),
        unet_inpaint=models.make_unet_inpaint(cross_attention_dim, size),
        unet_semantic=models.make_unet_semantic(size),
        unet_upscale=models.make_unet_upscale(size),
        **options,
    )
