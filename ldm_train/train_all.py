"""Train every stage of the built-in family in order, then assemble it (resumable: finished stages are skipped).

    python -m ldm_train.train_all --size tiny --runs runs/tiny --out runs/tiny/family   # < 2 minutes, CPU
    python -m ldm_train.train_all --size full --minutes-per-stage 60              # the shipped family

Order: autoencoder -> (text, semantic, upscale) -> inpaint (starts from text) -> export. The evaluator is separate:
`python -m ldm_train.evaluation.segmenter`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from . import autoencoder, unet
from .export import export_family

logger = logging.getLogger(__name__)


def train_all(size: str, runs: Path, out: Path, cache: Path, minutes_per_stage: float | None = None) -> Path:
    ae_cfg = autoencoder.AutoencoderConfig(**(autoencoder.TINY if size == "tiny" else {}))
    if minutes_per_stage is not None:
        ae_cfg.max_minutes = minutes_per_stage
    if not (runs / "autoencoder" / "vae").exists():
        autoencoder.train(ae_cfg, runs / "autoencoder", cache)
    vae = str(runs / "autoencoder" / "vae")
    for task in ("text", "semantic", "upscale", "inpaint"):
        if (runs / f"unet_{task}" / "unet").exists():
            continue
        cfg = unet.UNetConfig(task=task, vae=vae, **(unet.TINY if size == "tiny" else {}))
        if task == "inpaint":
            cfg.init_from = str(runs / "unet_text")
        if task in ("text", "inpaint"):  # see docs/TRAINING.md: why the text UNet ignored its prompt
            cfg.offset_noise = 0.1
            cfg.pyramid_noise = 0.4 if task == "text" else 0.0
        if task in ("semantic", "upscale") and size == "full":
            cfg.latent_crop = 16
        if minutes_per_stage is not None:
            cfg.max_minutes = minutes_per_stage
        unet.train(cfg, runs / f"unet_{task}", cache)
    return export_family(runs, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("assets/builtin"))
    parser.add_argument("--cache", type=Path, default=Path("cache"))
    parser.add_argument("--minutes-per-stage", type=float, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(train_all(args.size, args.runs, args.out, args.cache, args.minutes_per_stage))


if __name__ == "__main__":
    main()
