"""Outpainting seam on held-out scenes, through the engine the app uses:

    python -m ldm_train.evaluation.outpaint [--scenes 16] [--band 32] [--feather 0 4 8]

Each held-out scene (128 px) loses a band of `--band` px on one side (left, top, right, bottom in turn) and is
outpainted back to 128 px with its caption. The seam step is the mean colour step (summed over RGB) between the last
row or column of the kept picture and the first of the new band; the uncropped scene's step at the same place is the
reference. Bar: the median step within 25% of the reference's median. Also checked: the kept picture's pixels come
back unchanged. Prints a table; writes docs/evaluation/outpaint.json and a grid (outpaint.png) to look at.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ldm_core.config import EngineConfig
from ldm_core.engine import Engine
from ldm_core.requests import InpaintRequest

from ..data.dataset import HELDOUT_SEED_OFFSET
from ..data.scenes import render_scene

SIDES = ("left", "top", "right", "bottom")
OUT_DIR = Path("docs/evaluation")
logger = logging.getLogger(__name__)


def crop_side(image: np.ndarray, side: str, band: int) -> np.ndarray:
    height, width = image.shape[:2]
    box = {
        "left": np.s_[:, band:],
        "right": np.s_[:, : width - band],
        "top": np.s_[band:],
        "bottom": np.s_[: height - band],
    }
    return image[box[side]]


def seam_step(image: np.ndarray, side: str, band: int) -> float:
    """Mean |colour step| (RGB summed) across the line between the kept picture and the band."""
    pixels = image.astype(np.float64)
    height, width = pixels.shape[:2]
    inner, outer = {
        "left": (pixels[:, band], pixels[:, band - 1]),
        "right": (pixels[:, width - band - 1], pixels[:, width - band]),
        "top": (pixels[band], pixels[band - 1]),
        "bottom": (pixels[height - band - 1], pixels[height - band]),
    }[side]
    return float(np.abs(inner - outer).sum(-1).mean())


def kept_region(image: np.ndarray, side: str, band: int) -> np.ndarray:
    return crop_side(image, side, band)


def evaluate(engine: Engine, scenes: int, band: int, feather: int, seed: int = 0) -> dict:
    ours, truth, changed, grid = [], [], 0, []
    for index in range(scenes):
        scene = render_scene(HELDOUT_SEED_OFFSET + index, size=128)
        side = SIDES[index % len(SIDES)]
        kept = crop_side(scene.image, side, band)
        request = InpaintRequest(
            image=Image.fromarray(kept),
            prompt=scene.caption,
            seed=seed + index,
            outpaint_feather=feather,
            **{f"extend_{side}": band},
        )
        out = np.asarray(engine.run(request).images[0])
        assert out.shape == scene.image.shape, (out.shape, scene.image.shape)
        ours.append(seam_step(out, side, band))
        truth.append(seam_step(scene.image, side, band))
        changed += int(not np.array_equal(kept_region(out, side, band), kept))
        logger.info("scene %d (%s): seam %.2f, uncropped %.2f", index, side, ours[-1], truth[-1])
        if len(grid) < 8:
            grid.append(np.concatenate([scene.image, out], 0))
    ratio = float(np.median(ours) / np.median(truth))
    return {
        "feather": feather,
        "scenes": scenes,
        "band": band,
        "median_seam": float(np.median(ours)),
        "median_seam_uncropped": float(np.median(truth)),
        "ratio": ratio,
        "within_25_percent": abs(ratio - 1) <= 0.25,
        "pictures_changed": changed,
        "grid": np.concatenate(grid, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", type=Path, default=Path("assets/builtin"))
    parser.add_argument("--scenes", type=int, default=16)
    parser.add_argument("--band", type=int, default=32)
    parser.add_argument("--feather", type=int, nargs="+", default=[InpaintRequest.outpaint_feather])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logger.setLevel(logging.INFO)
    if args.threads:
        torch.set_num_threads(args.threads)
    engine = Engine(EngineConfig(model_root=args.family, device="cpu", offline=True, save_outputs=False))
    rows = []
    args.out.mkdir(parents=True, exist_ok=True)
    for feather in args.feather:
        row = evaluate(engine, args.scenes, args.band, feather)
        Image.fromarray(row.pop("grid")).save(args.out / f"outpaint_feather{feather}.png")
        rows.append(row)
        verdict = "met" if row["within_25_percent"] else "NOT met"
        seams = f"median seam {row['median_seam']:6.2f} vs uncropped {row['median_seam_uncropped']:6.2f}"
        print(
            f"feather {feather:2d}: {seams} (ratio {row['ratio']:.2f}, {verdict}); "
            f"pictures changed: {row['pictures_changed']}/{args.scenes}"
        )
    (args.out / "outpaint.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
