"""Train the shared KL autoencoder (Rombach et al. 2022, Sec. 3.1): L1 reconstruction + a small KL term.

    python -m ldm_train.autoencoder --size full --out runs/autoencoder --max-minutes 60

Resumable: rerun the same command to continue from runs/.../checkpoint.pt. Trains on random crops of procedural
scenes mixed with crops of real photos, so the latent space also serves a user's photos (super-resolution).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL

from ldm_core.models import make_vae
from ldm_core.spaces import downsampling_factor, to_model_range

from .common import Budget, Checkpointer, cool_down, load_checkpoint, training_device
from .data.dataset import load_scenes
from .data.photos import TRAIN_PHOTOS, load_photo, random_crops

logger = logging.getLogger(__name__)


@dataclass
class AutoencoderConfig:
    size: str = "full"
    num_scenes: int = 8000
    crop: int = 32
    batch_size: int = 12
    photo_fraction: float = 0.25
    lr: float = 3e-4
    kl_weight: float = 1e-6
    max_steps: int = 100_000
    max_minutes: float = 60.0
    data_seed: int = 0
    checkpoint_every: int = 100


TINY = dict(size="tiny", num_scenes=64, crop=32, batch_size=4, max_steps=20, checkpoint_every=10)


def sample_batch(scenes: np.ndarray, photos: list[np.ndarray], cfg: AutoencoderConfig, rng) -> torch.Tensor:
    n_photo = int(round(cfg.batch_size * cfg.photo_fraction)) if photos else 0
    n_scene = cfg.batch_size - n_photo
    idx = rng.integers(0, len(scenes), n_scene)
    size = scenes.shape[1]
    y, x = rng.integers(0, size - cfg.crop + 1, 2)
    crops = scenes[idx, y : y + cfg.crop, x : x + cfg.crop]
    if rng.random() < 0.5:
        crops = crops[:, :, ::-1]
    if n_photo:
        crops = np.concatenate([crops, random_crops(photos, n_photo, cfg.crop, rng)])
    return to_model_range(crops, channels_last=True)  # flipped crops are a view: copied contiguous there


def train(cfg: AutoencoderConfig, out_dir: Path, cache_dir: Path) -> None:
    torch.manual_seed(cfg.data_seed)
    rng = np.random.default_rng(cfg.data_seed)
    scenes = load_scenes(cache_dir, cfg.num_scenes).images
    photos = [load_photo(name) for name in TRAIN_PHOTOS] if cfg.photo_fraction > 0 else []
    vae = make_vae(cfg.size)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0.0)
    state = load_checkpoint(out_dir, {"vae": vae}, optimizer)
    rng = np.random.default_rng([cfg.data_seed, state.step])  # a resumed run draws fresh batches
    budget = Budget(cfg.max_steps, cfg.max_minutes)
    vae.train()
    checkpointer = Checkpointer(out_dir, {"vae": vae}, optimizer, cfg, "autoencoder L1", cfg.checkpoint_every, budget)
    while not budget.done(state.step):
        pixels = sample_batch(scenes, photos, cfg, rng)
        posterior = vae.encode(pixels).latent_dist
        recon = vae.decode(posterior.sample()).sample
        rec_loss = F.l1_loss(recon, pixels)
        kl = posterior.kl().mean() / pixels[0].numel()
        loss = rec_loss + cfg.kl_weight * kl * pixels[0].numel()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        state.step += 1
        state.losses.append((state.step, rec_loss.item()))
        if state.step % 20 == 0:
            mse = F.mse_loss(recon.detach(), pixels).item()
            psnr = 10 * np.log10(4.0 / max(mse, 1e-10))
            logger.info(
                "step %d  l1 %.4f  kl %.1f  psnr(train batch) %.2f dB",
                state.step,
                rec_loss.item(),
                kl.item() * pixels[0].numel(),
                psnr,
            )
        checkpointer.step(state)
    vae.eval()
    mean, std = normalize_latent_space(vae, scenes[: min(len(scenes), 512)])
    logger.info("latent space normalised (per-channel mean %s, std %s)", mean.tolist(), std.tolist())
    vae.save_pretrained(out_dir / "vae")
    logger.info("saved %s (step %d)", out_dir / "vae", state.step)


@dataclass
class DecoderConfig:
    init: str = "runs/autoencoder/vae"
    num_scenes: int = 2000
    latent_crop: int = 16
    batch_size: int = 8
    lr: float = 1e-4
    latent_noise: float = 0.05
    max_steps: int = 100_000
    max_minutes: float = 60.0
    data_seed: int = 0
    checkpoint_every: int = 100
    cooldown: bool = False  # decay the learning rate linearly to 0 over this invocation (see training.common)
    device: str = "auto"


DECODER_TINY = dict(num_scenes=64, latent_crop=8, batch_size=2, max_steps=5)


def finetune_decoder(cfg: DecoderConfig, out_dir: Path, cache_dir: Path) -> None:
    """Train only the decoder (and post_quant_conv) on the cached latents, with L1 + MSE (like SD's "ft-MSE" VAE).

    The encoder, and so the latent space every UNet is trained in, stays exactly the same: the UNets can keep
    training on the same cached latents while the decoder gets sharper. Small Gaussian noise on the latents keeps the
    decoder tolerant of the imperfect latents a sampler produces.
    """
    from .latents import load_latent_data

    torch.manual_seed(cfg.data_seed)
    device = training_device(cfg.device)
    vae = AutoencoderKL.from_pretrained(cfg.init).to(device)
    data = load_latent_data(cache_dir, vae, cfg.num_scenes, "upscale")  # scenes + real-photo crops, raw latents
    vae.requires_grad_(False)
    params = [*vae.decoder.parameters(), *vae.post_quant_conv.parameters()]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0.0)
    state = load_checkpoint(out_dir, {"vae": vae}, optimizer)
    rng = np.random.default_rng([cfg.data_seed, state.step])
    budget = Budget(cfg.max_steps, cfg.max_minutes)
    vae.decoder.train()
    checkpointer = Checkpointer(out_dir, {"vae": vae}, optimizer, cfg, "decoder L1 + MSE", cfg.checkpoint_every, budget)
    lc, f = cfg.latent_crop, downsampling_factor(vae.config)
    while not budget.done(state.step):
        if cfg.cooldown:
            cool_down(optimizer, cfg.lr, budget)
        idx = rng.integers(0, len(data.latents), cfg.batch_size)
        y, x = rng.integers(0, data.latents.shape[-1] - lc + 1, 2)
        latents = data.latents[idx, :, y : y + lc, x : x + lc].to(device)
        pixels = data.pixels(idx)[..., f * y : f * (y + lc), f * x : f * (x + lc)].to(device)
        if rng.random() < 0.5:
            latents, pixels = latents.flip(-1), pixels.flip(-1)
        latents = latents + cfg.latent_noise * torch.randn_like(latents)
        recon = vae.decode(latents).sample
        mse = F.mse_loss(recon, pixels)
        loss = F.l1_loss(recon, pixels) + mse
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        state.step += 1
        state.losses.append((state.step, loss.item()))
        if state.step % 20 == 0:
            logger.info(
                "decoder step %d  loss %.4f  psnr(train batch) %.2f dB",
                state.step,
                loss.item(),
                10 * np.log10(4.0 / max(mse.item(), 1e-10)),
            )
        checkpointer.step(state)
    vae.eval()
    vae.save_pretrained(out_dir / "vae")
    logger.info("saved %s (step %d)", out_dir / "vae", state.step)


@torch.no_grad()
def normalize_latent_space(vae: AutoencoderKL, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold a per-channel affine map into quant_conv / post_quant_conv so latents have zero mean and unit variance.

    Plays the role of Stable Diffusion's `scaling_factor` (Sec. 3.1, "rescale the latents") but also works for
    pipelines that decode without one (LDMSuperResolutionPipeline), so the family keeps scaling_factor = 1.
    """
    from .latents import encode_images

    latents = encode_images(vae, images)
    mean, std = latents.mean((0, 2, 3)), latents.std((0, 2, 3))
    c = vae.config.latent_channels
    quant, post = vae.quant_conv, vae.post_quant_conv
    quant.weight[:c] /= std[:, None, None, None]
    quant.bias[:c] = (quant.bias[:c] - mean) / std
    quant.bias[c:] -= 2 * torch.log(std)  # log-variance moves with the scale
    post.bias += post.weight[:, :, 0, 0] @ mean
    post.weight *= std[None, :, None, None]
    vae.register_to_config(scaling_factor=1.0)
    return mean, std


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("--out", type=Path, default=Path("runs/autoencoder"))
    parser.add_argument("--cache", type=Path, default=Path("cache"))
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--decoder-only",
        metavar="VAE",
        default=None,
        help="fine-tune only the decoder of this trained VAE folder on its cached latents (keeps the latent space)",
    )
    parser.add_argument("--cooldown", action="store_true", help="decay the learning rate to 0 over --max-minutes")
    parser.add_argument("--device", default="auto", help="decoder-only: auto (the GPU if there is one), cpu, cuda")
    parser.add_argument("--batch-size", type=int, default=None, help="decoder-only")
    parser.add_argument("--num-scenes", type=int, default=None, help="decoder-only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.decoder_only:
        dcfg = DecoderConfig(init=args.decoder_only, **(DECODER_TINY if args.size == "tiny" else {}))
        dcfg.max_minutes = args.max_minutes if args.max_minutes is not None else dcfg.max_minutes
        dcfg.max_steps = args.max_steps if args.max_steps is not None else dcfg.max_steps
        dcfg.cooldown, dcfg.device = args.cooldown, args.device
        dcfg.batch_size = args.batch_size or dcfg.batch_size
        dcfg.num_scenes = args.num_scenes or dcfg.num_scenes
        finetune_decoder(dcfg, args.out, args.cache)
        return
    cfg = AutoencoderConfig(**TINY) if args.size == "tiny" else AutoencoderConfig()
    if args.max_minutes is not None:
        cfg.max_minutes = args.max_minutes
    if args.max_steps is not None:
        cfg.max_steps = args.max_steps
    train(cfg, args.out, args.cache)


if __name__ == "__main__":
    main()
