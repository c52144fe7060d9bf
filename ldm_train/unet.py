"""Train one latent diffusion UNet with the epsilon loss (Rombach et al. 2022, Eq. 1-2) on the shared autoencoder.

    python -m ldm_train.unet --task text --out runs/unet_text --vae runs/autoencoder/vae --max-minutes 30

Tasks differ only in their conditioning, which is data (Sec. 3.3):
  text      cross-attention to a text encoder trained jointly; captions dropped 10% for classifier-free guidance
  inpaint   concat [mask, masked-image latent] (SD-inpainting layout), text by cross-attention; starts from `text`
  semantic  concat per-class area fractions of the label map at latent resolution; map dropped 10% for guidance
  upscale   concat the x4-downsampled image at latent resolution (LDMSuperResolutionPipeline layout, unscaled latents)
Resumable: rerun the same command to continue from <out>/checkpoint.pt. Trains on the GPU when there is one
(`--device`); `--init-unet` starts any task from a trained UNet folder (e.g. the shipped one, to fine-tune it).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler
from diffusers.training_utils import EMAModel
from transformers import AutoTokenizer, CLIPTextModel

from ldm_core.models import (
    build_word_tokenizer,
    make_scheduler,
    make_text_encoder,
    make_unet_inpaint,
    make_unet_semantic,
    make_unet_text,
    make_unet_upscale,
)
from ldm_core.palette import CLASS_ID, NUM_CLASSES
from ldm_core.registry import FAMILY_TASKS

from .common import Budget, Checkpointer, autocast_bf16, cool_down, load_checkpoint, training_device
from .data.scenes import ATTRIBUTE_CLASSES, ATTRIBUTES, TIMES, WATER_KINDS, make_caption
from .latents import LatentData, load_latent_data, random_masks

# --task: the training stage -> the registry task whose UNet it trains (the text stage also trains the text encoder)
STAGES = {("text" if task == "text2img" else task): task for task in FAMILY_TASKS}

logger = logging.getLogger(__name__)


@dataclass
class UNetConfig:
    task: str = "text"
    size: str = "full"
    num_scenes: int = 2000
    batch_size: int = 32
    latent_crop: int = 0  # >0: train on random latent crops (only for the purely convolutional concat tasks)
    lr: float = 3e-4
    cond_dropout: float = 0.1
    # Offset noise (Guttenberg 2023): a per-image, per-channel constant added to the noise. With 32x32 latents the
    # scaled-linear schedule leaves an image's mean colour readable even at t=999, so a model learns to take it from
    # x_t, which is pure noise at sampling time, instead of from the prompt or the unmasked context.
    offset_noise: float = 0.0
    # Pyramid (multi-resolution) noise (Whitaker 2023): noise at 1/2, 1/4... resolution, upsampled and added with weight
    # discount**level (not renormalised: see pyramid_noise). Offset noise hides only the whole image's mean; this
    # hides regional means too (a sky's colour), which leak through x_t at every t for 32x32 latents. 0 = off; e.g. 0.4.
    pyramid_noise: float = 0.0
    # The principled fix (Lin et al. 2024, "Common diffusion noise schedules and sample steps are flawed"): betas
    # rescaled to zero terminal SNR (x_999 is pure noise, as at sampling time), so the model must predict the image from
    # the prompt alone at t=999; that needs v-prediction (epsilon is undefined there). Sampling then starts at t=999
    # (trailing spacing) with rescaled classifier-free guidance. Both are recorded in the exported scheduler config.
    prediction_type: str = "epsilon"  # or "v_prediction"
    zero_snr: bool = False  # rescale_betas_zero_snr
    timestep_spacing: str = "leading"  # sampling only: "trailing" with zero_snr
    guidance_rescale: float = 0.0  # sampling only: e.g. 0.7 with zero_snr (Lin et al. Sec. 3.4)
    # Draw a fresh caption for each training sample from the scene's labels (other phrasings, other attribute subsets
    # and order) instead of its one fixed caption.
    caption_resample: bool = False
    # Inpainting: the share of samples whose caption names only what lies under the mask (with the scene's time of
    # day), so that a prompt such as "a red house" comes to mean "paint a house in the mask", not "a scene with one".
    mask_captions: float = 0.0
    ema_decay: float = 0.999
    max_steps: int = 100_000
    max_minutes: float = 30.0
    data_seed: int = 0
    checkpoint_every: int = 200
    vae: str = "runs/autoencoder/vae"
    init_from: str = ""  # a folder with unet/ (and text_encoder/, tokenizer/) to start from
    init_unet: str = ""  # a UNet folder to start from instead of init_from/unet (same task, e.g. the shipped UNet)
    mask_bank: int = 2048  # inpainting: masks drawn once, then picked and flipped per batch (drawing is slow numpy)
    device: str = "auto"
    train_text_encoder: bool = True  # text task only; freeze it once inpainting has started from it
    cooldown: bool = False  # decay the learning rate linearly to 0 over this invocation (see training.common)
    until: str = ""  # ISO time (UTC): end this invocation then at the latest (the budget starts after data loading)


TINY = dict(size="tiny", num_scenes=64, batch_size=4, max_steps=10, checkpoint_every=5, mask_bank=16)


class TaskModel(torch.nn.Module):
    """The trainable parts of one task and the forward pass that turns a batch into an epsilon prediction."""

    def __init__(self, cfg: UNetConfig, data: LatentData, vae: AutoencoderKL):
        super().__init__()
        self.cfg, self.vae = cfg, vae
        self.tokenizer = None
        if cfg.task in ("text", "inpaint"):
            init = Path(cfg.init_from) if cfg.init_from else None
            if init and (init / "tokenizer").exists():
                self.tokenizer = AutoTokenizer.from_pretrained(init / "tokenizer")
                # trained in fp32, also when starting from the shipped (fp16) family
                self.text_encoder = CLIPTextModel.from_pretrained(init / "text_encoder", dtype=torch.float32)
            else:
                words = " ".join(data.captions).replace(",", " ").replace(":", " ").split()
                self.tokenizer = build_word_tokenizer(words)
                self.text_encoder = make_text_encoder(self.tokenizer, cfg.size)
            dim = self.text_encoder.config.hidden_size
            self.unet = make_unet_text(dim, cfg.size) if cfg.task == "text" else make_unet_inpaint(dim, cfg.size)
            if init and (init / "unet").exists() and not cfg.init_unet:
                self._load_unet_expanding_input(init / "unet")
        elif cfg.task == "semantic":
            self.unet = make_unet_semantic(cfg.size)
        elif cfg.task == "upscale":
            self.unet = make_unet_upscale(cfg.size)
        else:
            raise ValueError(f"task must be one of {', '.join(STAGES)}; got {cfg.task!r}")
        if cfg.init_unet:
            self._load_unet_expanding_input(Path(cfg.init_unet))
        if self.tokenizer is not None and not (cfg.task == "text" and cfg.train_text_encoder):
            self.text_encoder.requires_grad_(False)  # frozen or shared: no gradients to compute

    def _load_unet_expanding_input(self, folder: Path) -> None:
        """Start from another UNet; extra input channels (inpainting's mask and masked image) start at zero."""
        from safetensors.torch import load_file

        source = load_file(next(folder.glob("*.safetensors")))
        target = self.unet.state_dict()
        for name, value in source.items():
            if name == "conv_in.weight" and value.shape != target[name].shape:
                expanded = torch.zeros_like(target[name])
                expanded[:, : value.shape[1]] = value
                value = expanded
            target[name] = value.to(target[name].dtype)
        self.unet.load_state_dict(target)

    def trainable(self) -> list[torch.nn.Parameter]:
        params = list(self.unet.parameters())
        if self.cfg.task == "text" and self.cfg.train_text_encoder:  # jointly with the text UNet only
            params += list(self.text_encoder.parameters())
        return params

    def encode_prompts(self, captions: list[str]) -> torch.Tensor:
        ids = self.tokenizer(
            captions,
            padding="max_length",
            max_length=self.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        return self.text_encoder(ids.to(self.text_encoder.device))[0]

    def forward(self, batch: dict, noisy: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        task, drop = self.cfg.task, batch["drop"]
        if task in ("text", "inpaint"):
            captions = ["" if d else c for c, d in zip(batch["captions"], drop.tolist(), strict=False)]
            hidden = self.encode_prompts(captions)
            if task == "text":
                return self.unet(noisy, timesteps, encoder_hidden_states=hidden).sample
            model_input = torch.cat([noisy, batch["mask"], batch["masked_latents"]], dim=1)
            return self.unet(model_input, timesteps, encoder_hidden_states=hidden).sample
        condition = (
            batch["condition"] * (~drop).float()[:, None, None, None] if task == "semantic" else batch["condition"]
        )
        return self.unet(torch.cat([noisy, condition], dim=1), timesteps).sample


def pick_masks(bank: torch.Tensor, count: int, rng: np.random.Generator) -> torch.Tensor:
    """`count` masks from the bank, each in one of its 8 orientations (flips and transposes of a square mask)."""
    masks = bank[rng.integers(0, len(bank), count)]
    if rng.random() < 0.5:
        masks = masks.transpose(-1, -2)
    flips = [d for d, flip in ((-1, rng.random() < 0.5), (-2, rng.random() < 0.5)) if flip]
    return masks.flip(flips) if flips else masks


def pyramid_noise(like: torch.Tensor, discount: float, rng: np.random.Generator) -> torch.Tensor:
    """Gaussian noise plus coarser Gaussian noise at random 2-4x steps down to 1x1, each upsampled and weighted
    discount**level. Not renormalised: the white part keeps unit variance, as sampling from white noise expects.
    (Renormalising to unit variance, as the reference does, shrank it to 0.6 at discount 0.8: the samples kept
    speckle, seen here.)"""
    batch, channels, height, width = like.shape
    noise = torch.randn_like(like)
    for level in range(1, 10):
        factor = rng.uniform(2, 4) ** level
        h, w = max(1, int(height / factor)), max(1, int(width / factor))
        coarse = torch.randn(batch, channels, h, w, device=like.device, dtype=like.dtype)
        noise = noise + F.interpolate(coarse, size=(height, width), mode="bilinear") * discount**level
        if h == 1 or w == 1:
            break
    return noise


def training_scheduler(cfg: UNetConfig) -> DDPMScheduler:
    """The training noise schedule of `cfg` (the family's scaled-linear betas, optionally rescaled to zero SNR)."""
    if cfg.prediction_type not in ("epsilon", "v_prediction"):
        raise ValueError(f"prediction_type must be epsilon or v_prediction; got {cfg.prediction_type!r}")
    return DDPMScheduler.from_config(
        make_scheduler().config,
        prediction_type=cfg.prediction_type,
        rescale_betas_zero_snr=cfg.zero_snr,
        timestep_spacing=cfg.timestep_spacing,
    )


def resample_caption(labels: dict, i: int, rng: np.random.Generator) -> str:
    """A fresh caption for scene `i` from its labels (see scenes.make_caption)."""
    attrs = {name: bool(v) for name, v in zip(ATTRIBUTES, labels["attributes"][i], strict=True)}
    return make_caption(rng, TIMES[int(labels["times"][i])], attrs, str(labels["water"][i]))


MIN_REGION_SHARE = 0.1  # of the mask's pixels, for a class to be named in a region caption


def region_caption(labels: dict, label_map: np.ndarray, mask: np.ndarray, i: int, rng: np.random.Generator) -> str:
    """A caption for scene `i` naming only what covers at least a tenth of `mask` (boolean, the label map's size);
    the whole scene's caption where nothing a phrase names lies under it."""
    region = label_map[mask]
    if region.size == 0:
        return resample_caption(labels, i, rng)
    share = np.bincount(region, minlength=NUM_CLASSES) / region.size
    shown = lambda classes: sum(share[CLASS_ID[c]] for c in classes) >= MIN_REGION_SHARE  # noqa: E731
    flags = zip(ATTRIBUTES, labels["attributes"][i], strict=True)
    attrs = {name: bool(v) and shown(ATTRIBUTE_CLASSES[name]) for name, v in flags}
    water = next((kind for kind, cls in WATER_KINDS if shown((cls,))), "none")
    if not any(attrs[name] for name in ATTRIBUTES if name != "clouds") and water == "none":
        return resample_caption(labels, i, rng)  # sky or grass alone: nothing a caption phrase would name
    return make_caption(rng, TIMES[int(labels["times"][i])], attrs, water)


def make_batch(
    data: LatentData,
    cfg: UNetConfig,
    vae: AutoencoderKL,
    rng: np.random.Generator,
    mask_bank: torch.Tensor | None = None,
) -> dict:
    """One training batch on the VAE's device."""
    device = vae.device
    idx = rng.integers(0, len(data.latents), cfg.batch_size)
    latents = data.latents[idx].to(device)
    batch = {"drop": torch.from_numpy(rng.random(cfg.batch_size) < cfg.cond_dropout).to(device)}
    if cfg.task in ("text", "inpaint"):
        if cfg.caption_resample and data.scene_labels is not None:
            batch["captions"] = [resample_caption(data.scene_labels, i, rng) for i in idx]
        else:
            batch["captions"] = [data.captions[i] for i in idx]
    if cfg.task == "semantic":
        batch["condition"] = data.semantic_condition[idx].to(device)
    if cfg.task == "upscale":
        batch["condition"] = data.low_res[idx].to(device)
    if cfg.task == "inpaint":
        pixels = data.pixels(idx).to(device)
        masks = pick_masks(mask_bank, len(idx), rng).to(device)  # (B, 1, H, W), 1 = repaint
        if cfg.mask_captions and data.label_maps is not None:
            for j, i in enumerate(idx):
                if rng.random() < cfg.mask_captions:
                    region = masks[j, 0].cpu().numpy() > 0.5
                    batch["captions"][j] = region_caption(data.scene_labels, data.label_maps[i], region, i, rng)
        with torch.no_grad(), autocast_bf16(device):  # 2x faster on CPU
            masked = vae.encode(pixels * (masks < 0.5)).latent_dist.sample().float()
        masked_latents = masked * vae.config.scaling_factor
        batch["mask"] = F.interpolate(masks, size=latents.shape[-2:])
        batch["masked_latents"] = masked_latents
    if cfg.latent_crop and cfg.task in ("semantic", "upscale"):
        size = latents.shape[-1]
        y, x = rng.integers(0, size - cfg.latent_crop + 1, 2)
        crop = (slice(None), slice(None), slice(y, y + cfg.latent_crop), slice(x, x + cfg.latent_crop))
        latents, batch["condition"] = latents[crop], batch["condition"][crop]
    if cfg.task != "inpaint" and rng.random() < 0.5:  # mirror the scene (latents, map, low-res image together)
        latents = latents.flip(-1)
        if "condition" in batch:
            batch["condition"] = batch["condition"].flip(-1)
    batch["latents"] = latents
    return batch


def train(cfg: UNetConfig, out_dir: Path, cache_dir: Path) -> None:
    torch.manual_seed(cfg.data_seed)
    device = training_device(cfg.device)
    vae = AutoencoderKL.from_pretrained(cfg.vae).eval().requires_grad_(False).to(device)
    data = load_latent_data(cache_dir, vae, cfg.num_scenes, cfg.task)
    model = TaskModel(cfg, data, vae).to(device)
    noise_scheduler = training_scheduler(cfg)
    optimizer = torch.optim.AdamW(model.trainable(), lr=cfg.lr, weight_decay=0.01)
    ema = EMAModel(model.unet.parameters(), decay=cfg.ema_decay, use_ema_warmup=True)
    modules = {"unet": model.unet, **({"text_encoder": model.text_encoder} if model.tokenizer else {})}
    try:
        state = load_checkpoint(out_dir, modules, optimizer)
    except ValueError:  # the trainable set changed (e.g. the text encoder was frozen): keep weights, fresh optimizer
        state = load_checkpoint(out_dir, modules, None)
    ema_path = out_dir / "ema.pt"
    if ema_path.exists():
        ema.load_state_dict(torch.load(ema_path, weights_only=False))
        ema.to(device)
    rng = np.random.default_rng([cfg.data_seed, state.step])
    mask_bank = random_masks(cfg.mask_bank, data.images.shape[1], rng) if cfg.task == "inpaint" else None
    if cfg.until:
        left = (datetime.fromisoformat(cfg.until).replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds() / 60
        cfg.max_minutes = min(cfg.max_minutes, max(left, 0.5))
    budget = Budget(cfg.max_steps, cfg.max_minutes)
    checkpointer = Checkpointer(
        out_dir, modules, optimizer, cfg, f"{cfg.task} UNet epsilon loss", cfg.checkpoint_every, budget
    )
    model.train()
    while not budget.done(state.step):
        if cfg.cooldown:
            cool_down(optimizer, cfg.lr, budget)
        batch = make_batch(data, cfg, vae, rng, mask_bank)
        latents = batch["latents"]
        noise = pyramid_noise(latents, cfg.pyramid_noise, rng) if cfg.pyramid_noise else torch.randn_like(latents)
        if cfg.offset_noise:
            noise = noise + cfg.offset_noise * torch.randn(*latents.shape[:2], 1, 1, device=device)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(latents),), device=device)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        if cfg.prediction_type == "v_prediction":
            target = noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        loss = F.mse_loss(model(batch, noisy, timesteps), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.trainable(), 1.0)
        optimizer.step()
        ema.step(model.unet.parameters())
        state.step += 1
        state.losses.append((state.step, loss.item()))
        if state.step % 25 == 0:
            recent = np.mean([v for _, v in state.losses[-25:]])
            logger.info("%s step %d  loss %.4f", cfg.task, state.step, recent)
        if checkpointer.step(state):
            torch.save(ema.state_dict(), ema_path)
    export(model, ema, out_dir)
    logger.info("saved %s (step %d)", out_dir, state.step)


def export(model: TaskModel, ema: EMAModel, out_dir: Path) -> None:
    """Save the EMA UNet (and the text encoder + tokenizer for text tasks) as diffusers/transformers folders."""
    ema.store(model.unet.parameters())
    ema.copy_to(model.unet.parameters())
    model.unet.save_pretrained(out_dir / "unet")
    ema.restore(model.unet.parameters())
    if model.tokenizer is not None:
        model.text_encoder.save_pretrained(out_dir / "text_encoder")
        model.tokenizer.save_pretrained(out_dir / "tokenizer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=list(STAGES), required=True)
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=Path("cache"))
    parser.add_argument("--vae", default=None)
    parser.add_argument("--init-from", default=None)
    parser.add_argument("--init-unet", default=None, help="a UNet folder of the same task to start from")
    parser.add_argument("--device", default=None, help="auto (default: the GPU if there is one), cpu, cuda, cuda:1")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--offset-noise", type=float, default=None, help="e.g. 0.1 (see UNetConfig.offset_noise)")
    parser.add_argument("--pyramid-noise", type=float, default=None, help="discount, e.g. 0.4 (UNetConfig)")
    parser.add_argument("--latent-crop", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--num-scenes", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--checkpoint-every", type=int, default=None)
    parser.add_argument("--until", default=None, help="UTC time to stop by, e.g. 2026-12-01T07:10")
    parser.add_argument("--prediction-type", choices=["epsilon", "v_prediction"], default=None)
    parser.add_argument("--zero-snr", action="store_true", help="rescale the betas to zero terminal SNR")
    parser.add_argument("--timestep-spacing", choices=["leading", "trailing", "linspace"], default=None)
    parser.add_argument("--guidance-rescale", type=float, default=None, help="sampling: e.g. 0.7 with --zero-snr")
    parser.add_argument("--caption-resample", action="store_true", help="a fresh caption per sample (text tasks)")
    parser.add_argument("--freeze-text-encoder", action="store_true")
    parser.add_argument("--mask-captions", type=float, default=None, help="inpainting: share captioned by the mask")
    parser.add_argument("--cooldown", action="store_true", help="decay the learning rate to 0 over --max-minutes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = UNetConfig(task=args.task, **(TINY if args.size == "tiny" else {}))
    cfg.train_text_encoder = not args.freeze_text_encoder
    cfg.cooldown = args.cooldown
    cfg.zero_snr = cfg.zero_snr or args.zero_snr
    cfg.caption_resample = cfg.caption_resample or args.caption_resample
    for key in (
        "vae",
        "init_from",
        "init_unet",
        "device",
        "lr",
        "offset_noise",
        "pyramid_noise",
        "latent_crop",
        "batch_size",
        "num_scenes",
        "max_minutes",
        "max_steps",
        "prediction_type",
        "timestep_spacing",
        "guidance_rescale",
        "mask_captions",
        "checkpoint_every",
        "until",
    ):
        if getattr(args, key) is not None:
            setattr(cfg, key, getattr(args, key))
    train(cfg, args.out, args.cache)


if __name__ == "__main__":
    main()
