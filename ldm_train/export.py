"""Assemble the trained stages into the built-in family folder the app loads (weights stored as fp16).

python -m ldm_train.export --runs runs --out assets/builtin
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from diffusers import AutoencoderKL, UNet2DConditionModel, UNet2DModel
from transformers import AutoTokenizer, CLIPTextModel

from ldm_core.family import save_family
from ldm_core.models import make_scheduler
from ldm_core.registry import TASKS

from .unet import STAGES

logger = logging.getLogger(__name__)


def _training_record(run: Path) -> dict:
    config = json.loads((run / "config.json").read_text()) if (run / "config.json").exists() else {}
    return {"run": run.name, "config": config}


def export_family(runs: Path, out: Path, curves_dir: Path | None = None) -> Path:
    records = {"autoencoder": _training_record(runs / "autoencoder")}
    vae_dir = runs / "autoencoder" / "vae"
    if (runs / "decoder" / "vae").exists():  # the decoder fine-tuned on the same latent space (autoencoder.py)
        vae_dir = runs / "decoder" / "vae"
        records["decoder"] = _training_record(runs / "decoder")
    vae = AutoencoderKL.from_pretrained(vae_dir)
    text_run = runs / "unet_text"
    tokenizer = AutoTokenizer.from_pretrained(text_run / "tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(text_run / "text_encoder")
    unets = {}
    for stage, task in STAGES.items():  # runs/unet_<stage>/unet -> the task's folder in the family
        spec, run_name = TASKS[task], f"unet_{stage}"
        folder = runs / run_name / "unet"
        unet_class = UNet2DConditionModel if spec.text_conditioned else UNet2DModel
        if folder.exists():
            unets[spec.family_unet] = unet_class.from_pretrained(folder)
            records[run_name] = _training_record(runs / run_name)
        else:
            logger.warning("%s missing: that task will be unavailable", folder)
    root = save_family(
        out,
        vae=vae,
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        scheduler=make_scheduler(),
        metadata={"training": records},
        **unets,
    )
    if curves_dir is not None:  # the loss curves travel with the weights they describe
        curves_dir.mkdir(parents=True, exist_ok=True)
        for run_name in records:
            if (runs / run_name / "loss.png").exists():
                shutil.copyfile(runs / run_name / "loss.png", curves_dir / f"{run_name}_loss.png")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("assets/builtin"))
    parser.add_argument("--curves", type=Path, default=Path("docs/training"), help="where loss-curve PNGs go")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    print(export_family(args.runs, args.out, args.curves))


if __name__ == "__main__":
    main()
