"""Full-size random-weight copies of every model the sd15 and ldm-paper presets load, nothing downloaded.

    python -m benchmarks.fixtures [--out DIR]     (default ~/.cache/latent-diffusion-studio/fixtures)

Writes, from the published architecture configs kept as data (`assets/configs/` for SD 1.5, its inpainting model
and the ControlNet; `benchmarks/configs/` for the two LDM paper models), fp16 weights in each source's layout:

    stable-diffusion-v1-5/                 diffusers folder: unet, vae, CLIP ViT-L/14 text encoder + tokenizer
    stable-diffusion-inpainting/           the same with a 9-channel UNet
    control_v11p_sd15_seg/                 ControlNet v1.1 (config.json + weights)
    ldm-super-resolution-4x-openimages/    UNet2DModel + VQModel (f=4, 8192 codes)
    ldm-text2im-large-256/                 LDMBert (32 x 1280) + UNet + KL autoencoder + BERT-style tokenizer
    single-file/                           the SD 1.5, inpainting and ControlNet weights again, as single
                                           .safetensors files in the original (CompVis / A1111) key layout

Weights are random (see random_weights); a file and its folder hold the same values, so both make the same image.
The safety checker is left out (the studio never loads it). The LDM tokenizer's vocabulary is a stand-in of
BERT's size (the real one is not shipped). Built once: a folder whose manifest matches is reused (about 9 GB).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from .common import PROMPT, REPO_ROOT

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("~/.cache/latent-diffusion-studio/fixtures")
VERSION = 1  # bump when the layout or the configs change: older folders are rebuilt
MANIFEST = "manifest.json"
SD_CONFIGS = REPO_ROOT / "assets" / "configs"
LDM_CONFIGS = REPO_ROOT / "benchmarks" / "configs"
SD15, SD15_INPAINT, CONTROLNET = "stable-diffusion-v1-5", "stable-diffusion-inpainting", "control_v11p_sd15_seg"
LDM_SR, LDM_TEXT = "ldm-super-resolution-4x-openimages", "ldm-text2im-large-256"
SINGLE_FILES = {
    "text2img": "single-file/v1-5-pruned-emaonly-fp16.safetensors",
    "inpaint": "single-file/sd-v1-5-inpainting-fp16.safetensors",
    "semantic": "single-file/control_v11p_sd15_seg_fp16.safetensors",
}
BERT_VOCAB = 30522
BERT_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def sources(root: Path | str, preset: str) -> dict[str, str]:
    """EngineConfig.sources that point a preset at the fixture folders (or, for `sd15-single-file`, the files)."""
    root = Path(root)
    folders = {
        "sd15": {"text2img": SD15, "inpaint": SD15_INPAINT, "semantic": CONTROLNET, "upscale": LDM_SR},
        "ldm-paper": {"text2img": LDM_TEXT, "upscale": LDM_SR},
        "sd15-single-file": SINGLE_FILES | {"upscale": LDM_SR},
    }[preset]
    return {task: str(root / path) for task, path in folders.items()}


def is_built(root: Path) -> bool:
    try:
        return json.loads((root / MANIFEST).read_text()).get("version") == VERSION
    except (OSError, ValueError):
        return False


def build(out: Path | str = DEFAULT_OUT) -> Path:
    """Build the fixtures into `out` unless a complete build is there; returns the folder."""
    root = Path(out).expanduser().absolute()
    if is_built(root):
        return root
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    started = time.perf_counter()
    counts = _build_sd15(staging) | _build_ldm(staging)
    manifest = {"version": VERSION, "dtype": "float16", "parameters_m": counts}
    manifest["build_s"] = round(time.perf_counter() - started, 1)
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    logger.info("full-size fixtures written to %s in %.0f s", root, manifest["build_s"])
    return root


def _save_file(state: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: tensor.contiguous() for name, tensor in state.items()}, str(path), metadata={"format": "pt"})


def _build_sd15(root: Path) -> dict[str, float]:
    from diffusers import (
        AutoencoderKL,
        ControlNetModel,
        PNDMScheduler,
        StableDiffusionInpaintPipeline,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    from ldm_core.single_file import clip_tokenizer

    from .original_layout import controlnet_to_original, sd15_to_original
    from .random_weights import diffusers_model, parameter_count, transformers_model

    base = SD_CONFIGS / SD15
    shared = {
        "vae": diffusers_model(AutoencoderKL, base / "vae"),
        "text_encoder": transformers_model(CLIPTextModel, CLIPTextConfig, base / "text_encoder"),
        "tokenizer": clip_tokenizer(),
    }
    no_safety = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
    counts = {}
    for name, pipeline_cls in ((SD15, StableDiffusionPipeline), (SD15_INPAINT, StableDiffusionInpaintPipeline)):
        unet = diffusers_model(UNet2DConditionModel, SD_CONFIGS / name / "unet")
        scheduler = PNDMScheduler.from_pretrained(base / "scheduler")
        pipe = pipeline_cls(unet=unet, scheduler=scheduler, **shared, **no_safety)
        pipe.save_pretrained(root / name)
        text, vae = shared["text_encoder"].state_dict(), shared["vae"].state_dict()
        task = "text2img" if name == SD15 else "inpaint"
        _save_file(sd15_to_original(unet.state_dict(), vae, text), root / SINGLE_FILES[task])
        counts[f"{name}/unet"] = round(parameter_count(unet) / 1e6, 1)
        del pipe, unet
    counts["vae"] = round(parameter_count(shared["vae"]) / 1e6, 1)
    counts["text_encoder"] = round(parameter_count(shared["text_encoder"]) / 1e6, 1)
    controlnet = diffusers_model(ControlNetModel, SD_CONFIGS / CONTROLNET)
    controlnet.save_pretrained(root / CONTROLNET)
    _save_file(controlnet_to_original(controlnet.state_dict()), root / SINGLE_FILES["semantic"])
    counts[CONTROLNET] = round(parameter_count(controlnet) / 1e6, 1)
    return counts


def _build_ldm(root: Path) -> dict[str, float]:
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        LDMSuperResolutionPipeline,
        LDMTextToImagePipeline,
        UNet2DConditionModel,
        UNet2DModel,
        VQModel,
    )
    from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion import LDMBertConfig, LDMBertModel

    from .random_weights import diffusers_model, parameter_count, transformers_model

    counts: dict[str, Any] = {}
    folder = LDM_CONFIGS / LDM_SR
    upscaler = LDMSuperResolutionPipeline(
        vqvae=diffusers_model(VQModel, folder / "vqvae"),
        unet=diffusers_model(UNet2DModel, folder / "unet"),
        scheduler=DDIMScheduler.from_pretrained(folder / "scheduler"),
    )
    upscaler.save_pretrained(root / LDM_SR)
    counts[f"{LDM_SR}/unet"] = round(parameter_count(upscaler.unet) / 1e6, 1)
    counts[f"{LDM_SR}/vqvae"] = round(parameter_count(upscaler.vqvae) / 1e6, 1)
    del upscaler

    folder = LDM_CONFIGS / LDM_TEXT
    text = LDMTextToImagePipeline(
        vqvae=diffusers_model(AutoencoderKL, folder / "vqvae"),
        bert=transformers_model(LDMBertModel, LDMBertConfig, folder / "bert"),
        tokenizer=_bert_style_tokenizer(),
        unet=diffusers_model(UNet2DConditionModel, folder / "unet"),
        scheduler=DDIMScheduler.from_pretrained(folder / "scheduler"),
    )
    text.save_pretrained(root / LDM_TEXT)
    for name in ("bert", "unet", "vqvae"):
        counts[f"{LDM_TEXT}/{name}"] = round(parameter_count(getattr(text, name)) / 1e6, 1)
    return counts


def _bert_style_tokenizer() -> Any:
    """A BertTokenizer with bert-base-uncased's size and special tokens, and a made-up vocabulary: the prompt's words,
    then filler tokens (the real vocabulary is not shipped; token ids only index the random embedding)."""
    from transformers import BertTokenizer

    words = sorted({word.strip(",.").lower() for word in PROMPT.split()})
    tokens = list(BERT_SPECIAL) + words + [f"tok{index}" for index in range(BERT_VOCAB)]
    vocab = {token: index for index, token in enumerate(tokens[:BERT_VOCAB])}
    return BertTokenizer(vocab=vocab, model_max_length=77)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="cache folder (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even when a complete build is there")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import diffusers

    diffusers.utils.logging.set_verbosity_error()  # "modules kept in float32: []" for every fp16 model
    diffusers.utils.logging.disable_progress_bar()
    torch.set_num_threads(1)
    out = args.out.expanduser()
    if args.force:
        (out / MANIFEST).unlink(missing_ok=True)
    root = build(out)
    print(json.dumps({"fixtures": str(root), **json.loads((root / MANIFEST).read_text())}, indent=2))


if __name__ == "__main__":
    main()
