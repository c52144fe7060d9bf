"""Training data in latent space: every image is encoded once and the latents are cached."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image

from ldm_core.models import VAE_FACTOR
from ldm_core.palette import CLASS_ID, NUM_CLASSES
from ldm_core.pipelines.semantic_map import label_map_to_condition
from ldm_core.spaces import to_model_range

from .common import training_device
from .data.dataset import GENERATOR_VERSION, SceneArrays, load_scenes
from .data.photos import TRAIN_PHOTOS, load_photo, random_crops
from .data.scenes import WATER_KINDS

logger = logging.getLogger(__name__)

PHOTO_CROPS = 400  # real-photo crops added to the super-resolution data


@dataclass
class LatentData:
    latents: torch.Tensor  # (N, C, h, w), scaled as the task's pipeline expects
    captions: list[str]
    images: np.ndarray  # (N, H, W, 3) uint8, the encoded images
    semantic_condition: torch.Tensor | None = None
    low_res: torch.Tensor | None = None  # (N, 3, h, w) in [-1, 1]
    scene_labels: dict | None = None  # text tasks: what a caption may name, per scene (see scene_labels)
    label_maps: np.ndarray | None = None  # inpainting: (N, H, W) class ids, to caption what lies under a mask

    def pixels(self, idx: np.ndarray) -> torch.Tensor:
        return to_model_range(self.images[idx], channels_last=True)


def vae_fingerprint(vae: AutoencoderKL) -> str:
    digest = hashlib.sha1()
    for tensor in vae.state_dict().values():
        digest.update(tensor.float().cpu().numpy().tobytes()[:4096])
    return digest.hexdigest()[:12]


@torch.no_grad()
def encode_images(vae: AutoencoderKL, images: np.ndarray, batch_size: int = 64) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> posterior means (N, C, H/f, W/f), unscaled, on the CPU (encoded on the VAE's device)."""
    out = []
    for start in range(0, len(images), batch_size):
        pixels = to_model_range(images[start : start + batch_size], channels_last=True)
        out.append(vae.encode(pixels.to(vae.device)).latent_dist.mean.cpu())
    return torch.cat(out)


def downsample(images: np.ndarray, factor: int = VAE_FACTOR) -> torch.Tensor:
    """x4 bicubic (antialiased) downsampling, as a user's low-resolution photo would look; -> [-1, 1] tensor."""
    small = [
        np.asarray(Image.fromarray(im).resize((im.shape[1] // factor, im.shape[0] // factor), Image.BICUBIC))
        for im in images
    ]
    return to_model_range(np.stack(small), channels_last=True)


def _cached_latents(cache_dir: Path, vae: AutoencoderKL, name: str, images: np.ndarray) -> torch.Tensor:
    path = Path(cache_dir) / f"latents_{name}_{vae_fingerprint(vae)}.pt"
    if path.exists():
        return torch.load(path)
    logger.info("encoding %d images into %s", len(images), path)
    latents = encode_images(vae, images)
    torch.save(latents, path)
    return latents


def load_latent_data(cache_dir: Path, vae: AutoencoderKL, num_scenes: int, task: str) -> LatentData:
    scenes: SceneArrays = load_scenes(cache_dir, num_scenes)
    images, captions = scenes.images, scenes.captions
    raw = _cached_latents(cache_dir, vae, f"scenes{num_scenes}_g{GENERATOR_VERSION}", images)
    if task == "upscale":
        rng = np.random.default_rng(1234)
        photos = random_crops(
            [load_photo(n) for n in TRAIN_PHOTOS], PHOTO_CROPS if num_scenes > 100 else 8, images.shape[1], rng
        )
        raw = torch.cat([raw, _cached_latents(cache_dir, vae, f"photos{len(photos)}", photos)])
        images = np.concatenate([images, photos])
        captions = captions + [""] * len(photos)
        # LDMSuperResolutionPipeline decodes its latents without a scaling factor: train on raw latents.
        return LatentData(latents=raw, captions=captions, images=images, low_res=downsample(images))
    data = LatentData(latents=raw * vae.config.scaling_factor, captions=captions, images=images)
    if task in ("text", "inpaint"):
        data.scene_labels = scene_labels(scenes)
    if task == "inpaint":
        data.label_maps = scenes.label_maps
    if task == "semantic":
        labels = torch.from_numpy(scenes.label_maps.astype(np.int64))
        data.semantic_condition = torch.cat(
            [label_map_to_condition(labels[i : i + 256], NUM_CLASSES, VAE_FACTOR) for i in range(0, len(labels), 256)]
        )
    return data


def scene_labels(scenes: SceneArrays) -> dict:
    """What a caption may name, per scene: time index, attribute flags and the kind of water (from the class map)."""
    water = []
    for label_map in scenes.label_maps:
        present = set(np.unique(label_map).tolist())
        kinds = [k for k, cls in WATER_KINDS if CLASS_ID[cls] in present]
        water.append(kinds[0] if kinds else "none")
    return {"times": scenes.times, "attributes": scenes.attributes, "water": np.array(water)}


def random_masks(count: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    """Inpainting masks (1 = repaint): random boxes and thick brush strokes, some large, a few full."""
    masks = np.zeros((count, 1, size, size), dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(count):
        kind = rng.random()
        if kind < 0.05:
            masks[i] = 1
            continue
        if kind < 0.45:
            for _ in range(int(rng.integers(1, 3))):
                h, w = rng.integers(size // 8, size * 3 // 4, 2)
                y, x = rng.integers(0, size - h), rng.integers(0, size - w)
                masks[i, 0, y : y + h, x : x + w] = 1
        else:
            for _ in range(int(rng.integers(1, 4))):
                y, x = rng.uniform(0, size, 2)
                radius = rng.uniform(size / 32, size / 10)
                for _ in range(int(rng.integers(4, 12))):
                    angle = rng.uniform(0, 2 * np.pi)
                    step = rng.uniform(size / 16, size / 5)
                    ny, nx = np.clip(y + step * np.sin(angle), 0, size), np.clip(x + step * np.cos(angle), 0, size)
                    for t in np.linspace(0, 1, 8):
                        cy, cx = y + (ny - y) * t, x + (nx - x) * t
                        masks[i, 0][(yy - cy) ** 2 + (xx - cx) ** 2 < radius**2] = 1
                    y, x = ny, nx
    return torch.from_numpy(masks)


def main() -> None:
    """Encode the training sets once, up front, so parallel UNet runs share one cache instead of racing to build it."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--vae", default="runs/autoencoder/vae")
    parser.add_argument("--cache", type=Path, default=Path("cache"))
    parser.add_argument("--num-scenes", type=int, default=2000)
    parser.add_argument("--photos", action="store_true", help="also encode the real-photo crops (x4 data)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="auto", help="auto (the GPU if there is one), cpu, cuda")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    vae = AutoencoderKL.from_pretrained(args.vae).eval().to(training_device(args.device))
    load_latent_data(args.cache, vae, args.num_scenes, "upscale" if args.photos else "text")


if __name__ == "__main__":
    main()
