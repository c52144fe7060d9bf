"""Builds each task's pipeline from a preset, sharing one VAE and one text encoder per preset.

Built-in family: one set of base components from the family root, one UNet folder per task, pipelines constructed
around the same module objects. sd15: the text-to-image pipeline is the base; inpainting takes only its UNet and
ControlNet-seg only its ControlNet, both joined to the base with `from_pipe`. LDM pipelines load whole.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    ControlNetModel,
    DDIMScheduler,
    DiffusionPipeline,
    LDMTextToImagePipeline,
    UNet2DConditionModel,
    UNet2DModel,
)
from transformers import AutoTokenizer, CLIPTextModel

from .errors import ModelNotAvailableError
from .family import FAMILY_FILE, UNET_FOLDERS, task_sampling
from .loading import Loader, is_single_file, missing_files, model_name
from .pipelines.stable_diffusion import (
    StableDiffusionControlNetPipeline,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
)
from .pipelines.super_resolution import OffloadableSuperResolutionPipeline
from .presets import ResolvedPreset, TaskSource
from .registry import TASKS
from .spaces import downsampling_factor
from .tasks.common import NO_SAFETY, FamilyParts

logger = logging.getLogger(__name__)
FAMILY_BASE_FILES = (
    "vae/config.json",
    "tokenizer/tokenizer_config.json",
    "text_encoder/config.json",
    "scheduler/scheduler_config.json",
)


@dataclass
class LoadedTask:
    """A ready pipeline plus the facts the task recipes need about it."""

    task: str
    kind: str
    pipe: DiffusionPipeline
    model_name: str  # written into infotext as `Model:`
    native_size: int  # pixels; for upscale: the low-res tile edge
    size_multiple: int  # width/height the pipeline accepts
    latent_channels: int
    vae_factor: int
    scheduler_config: Any  # the model's own schedule, the base of every per-request sampler
    guidance_rescale: float = 0.0  # rescaled classifier-free guidance, when the model asks for it (0 = plain CFG)

    @property
    def denoiser(self) -> torch.nn.Module:
        return self.pipe.unet


def _required_files(spec: TaskSource, task: str, preset: ResolvedPreset) -> list[tuple[str, list[str]]]:
    """(source, files) pairs a task needs; used by the cheap status check."""
    if spec.kind == "family":
        return [(preset.base or spec.source, list(FAMILY_BASE_FILES)), (spec.source, [_family_unet_file(spec, task)])]
    if spec.kind == "sd_img2img":  # the text-to-image pipeline itself, through from_pipe
        return [(preset.base or spec.source, ["model_index.json"])]
    shares_base = preset.base is not None and spec.kind in ("sd_inpaint", "sd_controlnet")
    base = [(preset.base, ["model_index.json"])] if shares_base else []
    own = {"sd": "model_index.json", "sd_inpaint": "unet/config.json", "sd_controlnet": "config.json"}
    return base + [(spec.source, [own.get(spec.kind, "model_index.json")])]


def _family_unet_file(spec: TaskSource, task: str) -> str:
    folder = Path(spec.source)
    if (folder / "config.json").exists() and not (folder / FAMILY_FILE).exists():
        return "config.json"  # the override points at a UNet folder itself
    return f"{UNET_FOLDERS[task]}/config.json"


def _read_family_metadata(path: Path) -> dict[str, Any]:
    """family.json is informative (native size, classes); a missing or unreadable one falls back to the configs."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        logger.warning("ignoring unreadable %s", path, exc_info=True)
        return {}


class Assembler:
    """Loads components once, keeps them, and builds a LoadedTask per task."""

    def __init__(self, preset: ResolvedPreset, loader: Loader):
        self.preset, self.loader = preset, loader
        self._base: dict[str, Any] | None = None
        self._sd_base: DiffusionPipeline | None = None
        self._family_unets: dict[str, torch.nn.Module] = {}  # by folder: tasks sharing a UNet load it once

    def status(self, task: str) -> str | None:
        spec = self.preset.tasks.get(task)
        if spec is None:
            return f"{task} is not part of the {self.preset.name} preset; choose another preset (--preset)"
        for source, files in _required_files(spec, task, self.preset):
            loader = self.loader
            reason = missing_files(source, [] if is_single_file(source) else files, loader.offline, loader.cache_dir)
            if reason:
                return reason
        return None

    def native_size(self, task: str) -> int | None:
        """The output size (pixels) the task's model was trained at, when a file says so without loading weights:
        the built-in family's family.json (not for the x4 task, whose size is its input's)."""
        spec = self.preset.tasks.get(task)
        if spec is None or spec.kind != "family" or task == "upscale":
            return None
        size = _read_family_metadata(Path(self.preset.base or spec.source) / FAMILY_FILE).get("image_size")
        return int(size) if isinstance(size, int) else None

    def build(self, task: str) -> LoadedTask:
        spec = self.preset.tasks.get(task)
        if spec is None:
            raise ModelNotAvailableError(self.status(task) or f"{task} is not available")
        builder = getattr(self, f"_build_{spec.kind}")
        return builder(task, spec)

    # --- the built-in family -------------------------------------------------------------------------------------

    def _family_base(self) -> dict[str, Any]:
        if self._base is None:
            root = self.preset.base or ""
            load = self.loader.pretrained
            what = f"the built-in family at {root}"
            base = {
                "vae": load(AutoencoderKL, root, f"{what}: autoencoder", "vae"),
                "tokenizer": load(AutoTokenizer, root, f"{what}: tokenizer", "tokenizer", weights=False),
                "text_encoder": load(CLIPTextModel, root, f"{what}: text encoder", "text_encoder"),
                "scheduler": load(DDIMScheduler, root, f"{what}: scheduler", "scheduler", weights=False),
            }
            base["family"] = _read_family_metadata(Path(root) / FAMILY_FILE)
            self._base = base
        return self._base

    def _build_family(self, task: str, spec: TaskSource) -> LoadedTask:
        base = self._family_base()
        entry = TASKS[task]
        assert entry.family_pipeline is not None  # the builtin preset lists only the family's tasks
        unet_class = UNet2DConditionModel if entry.text_conditioned else UNet2DModel
        unet_file = _family_unet_file(spec, task)
        folder = str(Path(spec.source) / Path(unet_file).parent)
        if folder not in self._family_unets:
            what = f"the built-in {task} model ({UNET_FOLDERS[task]}/)"
            self._family_unets[folder] = self.loader.pretrained(unet_class, folder, what)
        unet = self._family_unets[folder]
        vae, scheduler = base["vae"], base["scheduler"]
        sampling = task_sampling(base["family"], task)
        if sampling.get("scheduler"):  # this UNet's own schedule (e.g. v-prediction, zero terminal SNR, trailing)
            what = f"the built-in {task} model's scheduler ({sampling['scheduler']}/)"
            root = self.preset.base or ""
            scheduler = self.loader.pretrained(DDIMScheduler, root, what, sampling["scheduler"], weights=False)
        pipe = entry.family_pipeline(FamilyParts(unet, vae, scheduler, base["text_encoder"], base["tokenizer"]))
        factor = downsampling_factor(vae.config)
        image_size = int(base["family"].get("image_size", unet.config.sample_size * factor))
        # the semantic map is concatenated at latent size, so it must also divide by the UNet's own downsampling
        multiple = factor * downsampling_factor(unet.config) if task == "semantic" else 8
        native = image_size // factor if task == "upscale" else image_size
        rescale = float(sampling.get("guidance_rescale", 0.0))
        if rescale and task in ("inpaint", "img2img"):
            logger.warning("the %s pipeline has no rescaled guidance; the family's %s is not applied", task, rescale)
        channels, schedule = vae.config.latent_channels, scheduler.config
        return LoadedTask(task, "family", pipe, "builtin", native, multiple, channels, factor, schedule, rescale)

    # --- Stable Diffusion 1.5 and its add-ons --------------------------------------------------------------------

    def _sd_pipeline(self) -> DiffusionPipeline:
        if self._sd_base is None:
            source = self.preset.base
            if source is None:
                raise ModelNotAvailableError(f"the {self.preset.name} preset has no Stable Diffusion base model")
            what = f"Stable Diffusion base model {source}"
            if is_single_file(source):
                self._sd_base = self.loader.single_file(StableDiffusionPipeline, source, what, **NO_SAFETY)
            else:
                self._sd_base = self.loader.pretrained(StableDiffusionPipeline, source, what, **NO_SAFETY)
        return self._sd_base

    def _sd_task(self, task: str, kind: str, pipe: DiffusionPipeline, source: str) -> LoadedTask:
        factor = pipe.vae_scale_factor
        native = pipe.unet.config.sample_size * factor
        name = model_name(source)
        latent_channels = pipe.vae.config.latent_channels
        return LoadedTask(task, kind, pipe, name, native, 8, latent_channels, factor, pipe.scheduler.config)

    def _build_sd(self, task: str, spec: TaskSource) -> LoadedTask:
        return self._sd_task(task, "sd", self._sd_pipeline(), spec.source)

    def _build_sd_img2img(self, task: str, spec: TaskSource) -> LoadedTask:
        pipe = StableDiffusionImg2ImgPipeline.from_pipe(self._sd_pipeline(), **NO_SAFETY)
        return self._sd_task(task, "sd_img2img", pipe, self.preset.base or spec.source)

    def _build_sd_inpaint(self, task: str, spec: TaskSource) -> LoadedTask:
        base = self._sd_pipeline()
        what = f"inpainting model {spec.source}"
        if is_single_file(spec.source):
            shared = {name: getattr(base, name) for name in ("vae", "text_encoder", "tokenizer", "scheduler")}
            loaded = self.loader.single_file(StableDiffusionInpaintPipeline, spec.source, what, **shared, **NO_SAFETY)
            unet = loaded.unet
        else:
            unet = self.loader.pretrained(UNet2DConditionModel, spec.source, what, "unet")
        pipe = StableDiffusionInpaintPipeline.from_pipe(base, unet=unet, **NO_SAFETY)
        return self._sd_task(task, "sd_inpaint", pipe, spec.source)

    def _build_sd_controlnet(self, task: str, spec: TaskSource) -> LoadedTask:
        base = self._sd_pipeline()
        what = f"ControlNet {spec.source}"
        if is_single_file(spec.source):
            controlnet = self.loader.single_file(ControlNetModel, spec.source, what)
        else:
            controlnet = self.loader.pretrained(ControlNetModel, spec.source, what)
        pipe = StableDiffusionControlNetPipeline.from_pipe(base, controlnet=controlnet, **NO_SAFETY)
        return self._sd_task(task, "sd_controlnet", pipe, spec.source)

    # --- the LDM paper's pipelines (own autoencoder and text encoder) ----------------------------------------------

    def _build_ldm_text(self, task: str, spec: TaskSource) -> LoadedTask:
        pipe = self.loader.pretrained(LDMTextToImagePipeline, spec.source, f"LDM text-to-image model {spec.source}")
        factor = downsampling_factor(pipe.vqvae.config)
        name = model_name(spec.source)
        native = pipe.unet.config.sample_size * factor
        channels = pipe.unet.config.in_channels
        return LoadedTask(task, "ldm_text", pipe, name, native, 8, channels, factor, pipe.scheduler.config)

    def _build_ldm_superres(self, task: str, spec: TaskSource) -> LoadedTask:
        pipe = self.loader.pretrained(OffloadableSuperResolutionPipeline, spec.source, f"LDM upscaler {spec.source}")
        factor = downsampling_factor(pipe.vqvae.config)
        name = model_name(spec.source)
        channels = pipe.unet.config.in_channels // 2
        tile = int(pipe.unet.config.sample_size or 128)
        return LoadedTask(task, "ldm_superres", pipe, name, tile, 8, channels, factor, pipe.scheduler.config)
