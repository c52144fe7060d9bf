"""Checks that the "Inside the model" tab shows the truth, run through the same code the tab calls.

    python -m ldm_train.evaluation.explorer autoencoder            # PSNR over the held-out scenes vs docs/evaluation
    python -m ldm_train.evaluation.explorer attention              # DAAM maps vs the evaluator's segmentation

autoencoder: the tab's PSNR (ldm_core.explorer.autoencoder), averaged over the 200 held-out scenes the evaluation
report uses, must match the report's "autoencoder: PSNR on held-out scenes" within 0.5 dB.
attention: see `attention_table`.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ldm_core.config import EngineConfig
from ldm_core.engine import Engine
from ldm_core.explorer.autoencoder import AutoencoderRequest, inspect_autoencoder

from ..data.dataset import HELDOUT_SEED_OFFSET, load_scenes

logger = logging.getLogger(__name__)
REPORT = Path("docs/evaluation/results.json")
PSNR_METRIC = "autoencoder: PSNR on held-out scenes (dB)"
PSNR_TOLERANCE_DB = 0.5


def reported_psnr(report: Path = REPORT) -> float:
    rows = json.loads(report.read_text())["rows"]
    return next(row["value"] for row in rows if row["metric"] == PSNR_METRIC)


def autoencoder_check(engine: Engine, cache: Path, count: int = 200) -> dict[str, float]:
    """Mean PSNR of the tab's reconstruction over the first `count` held-out scenes, next to the report's."""
    scenes = load_scenes(cache, count, HELDOUT_SEED_OFFSET)
    values = [
        inspect_autoencoder(engine, AutoencoderRequest(image=Image.fromarray(image))).psnr
        for image in scenes.images[:count]
    ]
    ours, reported = float(np.mean(values)), reported_psnr()
    return {"scenes": len(values), "explorer_psnr": ours, "report_psnr": reported, "difference": ours - reported}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=["autoencoder", "attention"])
    parser.add_argument("--family", type=Path, default=Path("assets/builtin"))
    parser.add_argument("--evaluator", type=Path, default=Path("assets/evaluator"))
    parser.add_argument("--cache", type=Path, default=Path("cache"))
    parser.add_argument("--dtype", default="auto", help="the engine's --dtype (auto: as the app runs)")
    parser.add_argument("--seeds", type=int, default=16, help="attention: seeds per prompt")
    parser.add_argument("--steps", type=int, default=15, help="attention: denoising steps")
    parser.add_argument("--prompt", action="append", default=None, help="attention: a prompt (repeatable)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="attention: also write the table (markdown) here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    config = EngineConfig(model_root=args.family, dtype=args.dtype, save_outputs=False, offline=True)
    engine = Engine(config)
    started = time.perf_counter()
    if args.check == "autoencoder":
        row = autoencoder_check(engine, args.cache)
        verdict = "met" if abs(row["difference"]) <= PSNR_TOLERANCE_DB else "NOT met"
        print(
            f"autoencoder PSNR over {row['scenes']} held-out scenes: explorer {row['explorer_psnr']:.3f} dB, "
            f"evaluation report {row['report_psnr']:.3f} dB, difference {row['difference']:+.3f} dB "
            f"(bar: within {PSNR_TOLERANCE_DB} dB: {verdict}); weights {engine.runtime.dtype}, "
            f"autocast {engine.runtime.autocast}"
        )
    else:
        from .attention import PROMPTS, attention_table

        prompts = args.prompt or PROMPTS
        table = attention_table(engine, args.evaluator, seeds=args.seeds, steps=args.steps, prompts=prompts)
        print(table)
        if args.out is not None:
            args.out.write_text(table + "\n")
    print(f"took {time.perf_counter() - started:.0f} s; load average {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
