"""Assemble the trained stages into the built-in family folder the app loads (weights stored as fp16).

python -m ldm_train.export --runs runs --out assets/builtin
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel, UNet2DModel
from transformers import AutoTokenizer, CLIPTextModel

from ldm_core.family import FAMILY_FILE, SCHEDULER_FOLDERS, UNET_FOLDERS, save_family
from ldm_core.models import make_scheduler
from ldm_core.registry import TASKS

from .unet import STAGES

logger = logging.getLogger(__name__)


RUN_OF_TASK = {task: f"unet_{stage}" for stage, task in STAGES.items()}  # text2img -> unet_text ...


def run_sampling(config: dict) -> tuple[DDIMScheduler | None, float]:
    """The schedule a UNet run trained with, when it is not the family's shared one (v-prediction, zero terminal SNR,
    trailing spacing), and the rescaled guidance it asks for at sampling time."""
    own = {
        "prediction_type": config.get("prediction_type", "epsilon"),
        "rescale_betas_zero_snr": bool(config.get("zero_snr", False)),
        "timestep_spacing": config.get("timestep_spacing", "leading"),
    }
    shared = make_scheduler().config
    differs = any(shared[key] != value for key, value in own.items())
    scheduler = DDIMScheduler.from_config(shared, **own) if differs else None
    return scheduler, float(config.get("guidance_rescale", 0.0))


def replace_unet(family: Path, task: str, run: Path) -> None:
    """Put one trained UNet (`run`/unet, its schedule and training record) into an exported family, fp16."""
    cls = UNet2DConditionModel if TASKS[task].text_conditioned else UNet2DModel
    cls.from_pretrained(run / "unet").half().save_pretrained(family / UNET_FOLDERS[task])
    meta = json.loads((family / FAMILY_FILE).read_text())
    config = _training_record(run)["config"]
    scheduler, rescale = run_sampling(config)
    sampling = {k: v for k, v in meta.get("sampling", {}).items() if k != task}
    if scheduler is not None:
        scheduler.save_pretrained(family / SCHEDULER_FOLDERS[task])
        sampling[task] = {"scheduler": SCHEDULER_FOLDERS[task]}
    else:
        shutil.rmtree(family / SCHEDULER_FOLDERS[task], ignore_errors=True)
    if rescale:
        sampling.setdefault(task, {})["guidance_rescale"] = rescale
    meta["sampling"] = sampling
    record_name = RUN_OF_TASK[task]
    previous = meta.get("training", {}).get(record_name, {}).get("config")
    meta.setdefault("training", {})[record_name] = {"run": run.name, "config": config | {"fine_tuned_from": previous}}
    (family / FAMILY_FILE).write_text(json.dumps(meta, indent=2) + "\n")


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
    unets, schedulers, rescale = {}, {}, {}
    for stage, task in STAGES.items():  # runs/unet_<stage>/unet -> the task's folder in the family
        spec, run_name = TASKS[task], f"unet_{stage}"
        folder = runs / run_name / "unet"
        unet_class = UNet2DConditionModel if spec.text_conditioned else UNet2DModel
        if folder.exists():
            unets[spec.family_unet] = unet_class.from_pretrained(folder)
            records[run_name] = _training_record(runs / run_name)
            scheduler, rescale[task] = run_sampling(records[run_name]["config"])
            if scheduler is not None:
                schedulers[task] = scheduler
        else:
            logger.warning("%s missing: that task will be unavailable", folder)
    root = save_family(
        out,
        vae=vae,
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        scheduler=make_scheduler(),
        metadata={"training": records},
        task_schedulers=schedulers,
        guidance_rescale=rescale,
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
    parser.add_argument(
        "--replace",
        nargs=2,
        metavar=("TASK", "RUN"),
        help="only put RUN's UNet (e.g. text2img runs/unet_text_v) "
        "into the existing family at --out, with its schedule and training record",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.replace:
        task, run = args.replace
        replace_unet(args.out, task, Path(run))
        if (Path(run) / "loss.png").exists():
            args.curves.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(run) / "loss.png", args.curves / f"{RUN_OF_TASK[task]}_loss.png")
        return
    print(export_family(args.runs, args.out, args.curves))


if __name__ == "__main__":
    main()
