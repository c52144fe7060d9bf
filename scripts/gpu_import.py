"""Lay out the weights scripts/gpu_finetune.sh wrote as a runs folder that `ldm_train.export` reads.

    python scripts/gpu_import.py WEIGHTS_DIR --base assets/builtin --runs runs/gpu
    python -m ldm_train.export --runs runs/gpu --out /tmp/family_gpu --curves /tmp/curves

WEIGHTS_DIR holds text/inpaint/semantic/vae.safetensors (any may be missing: that stage keeps the base family's
weights) and logs.tar.gz (each run's config.json and loss curve). Model configs, the tokenizer and the (frozen) text
encoder come from the base family, so the architectures are the ones the weights were trained in.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tarfile
from pathlib import Path

STAGES = {  # weights file -> (run folder, model folder in the run, model folder in the family)
    "text": ("unet_text", "unet", "unet"),
    "inpaint": ("unet_inpaint", "unet", "unet_inpaint"),
    "semantic": ("unet_semantic", "unet", "unet_semantic"),
    "upscale": ("unet_upscale", "unet", "unet_upscale"),
    "vae": ("decoder", "vae", "vae"),
}
DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"


def import_weights(weights: Path, base: Path, runs: Path) -> None:
    runs.mkdir(parents=True, exist_ok=True)
    logged: dict[Path, bytes] = {}  # path inside runs -> content (logs, run configs, curves, model configs)
    if (weights / "logs.tar.gz").exists():
        with tarfile.open(weights / "logs.tar.gz") as tar:  # paths relative to the device's runs folder
            for member in tar.getmembers():
                if member.isfile():
                    logged[Path(member.name)] = tar.extractfile(member).read()
    for name, (run, model, family_folder) in STAGES.items():
        folder = runs / run / model
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(base / family_folder, folder)
        if (weights / f"{name}.safetensors").exists():
            shutil.copyfile(weights / f"{name}.safetensors", folder / DIFFUSERS_WEIGHTS)
            print(f"{run}: weights from {weights / f'{name}.safetensors'}")
        else:
            print(f"{run}: kept {base / family_folder}")
    for path, content in logged.items():  # a model config from the run wins over the base family's
        (runs / path).parent.mkdir(parents=True, exist_ok=True)
        (runs / path).write_bytes(content)
    for extra in ("text_encoder", "tokenizer"):  # the text encoder stayed frozen: the base family's
        shutil.rmtree(runs / "unet_text" / extra, ignore_errors=True)
        shutil.copytree(base / extra, runs / "unet_text" / extra)
    # Training records: the base family's for what was kept, and for a fine-tuned stage the run it started from.
    base_records = json.loads((base / "family.json").read_text()).get("training", {})
    for run, record in base_records.items():
        config = runs / run / "config.json"
        if not config.exists():
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(json.dumps(record.get("config", {}), indent=2))
        else:
            merged = {**json.loads(config.read_text()), "fine_tuned_from": record.get("config", {})}
            config.write_text(json.dumps(merged, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path)
    parser.add_argument("--base", type=Path, default=Path("assets/builtin"))
    parser.add_argument("--runs", type=Path, default=Path("runs/gpu"))
    args = parser.parse_args()
    import_weights(args.weights, args.base, args.runs)


if __name__ == "__main__":
    main()
