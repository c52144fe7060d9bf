"""Every tab of the sd15 and ldm-paper presets at full size (random weights), through the engine, on the CPU.

The fixtures (about 9 GB of fp16 files, see benchmarks.fixtures) are built once into
~/.cache/latent-diffusion-studio/fixtures and reused. Each scenario runs in its own process (benchmarks.fullsize_probe):
peak resident memory only grows within a process, and the test process stays small. Small images, 2 steps, fp32.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.fixtures import DEFAULT_OUT, MANIFEST

REPO = Path(__file__).resolve().parents[1]
SD15_TASKS = ("text2img", "inpaint", "semantic", "upscale")
SIZE = 64
FP32 = 4
MIB = 1024**2
THREADS = min(2, os.cpu_count() or 1)  # each scenario runs alone, so it may use the machine's cores


def run_probe(fixtures: Path, preset: str, tasks, out: Path | None = None, env=None, load_only=False) -> dict:
    command = [sys.executable, "-m", "benchmarks.fullsize_probe", "--fixtures", str(fixtures), "--preset", preset]
    command += ["--tasks", ",".join(tasks), "--size", str(SIZE), "--steps", "2", "--threads", str(THREADS)]
    command += ["--out", str(out)] if out else []
    command += ["--load-only"] if load_only else []
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fixtures() -> Path:
    """Build (or reuse) the full-size fixtures in a child process, so the build's memory is given back."""
    out = Path(DEFAULT_OUT).expanduser()
    command = [sys.executable, "-m", "benchmarks.fixtures", "--out", str(out)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def sd15_all(fixtures, tmp_path_factory) -> dict:
    return run_probe(fixtures, "sd15", SD15_TASKS, out=tmp_path_factory.mktemp("sd15"))


def test_sd15_every_tab_at_full_size_shares_components(sd15_all):
    tasks = sd15_all["tasks"]
    for task in ("text2img", "inpaint", "semantic"):
        assert tasks[task]["image_size"] == [SIZE, SIZE] and tasks[task]["finite"], task
    assert tasks["upscale"]["image_size"] == [SIZE, SIZE]  # a SIZE/4 input, x4
    shared = sd15_all["shared"]
    for part in ("vae", "text_encoder", "tokenizer"):
        assert shared[part] == ["inpaint", "semantic", "text2img"], part
    assert shared["unet"] == ["semantic", "text2img"]  # ControlNet steers the base UNet; inpainting has its own
    images = [np.asarray(Image.open(tasks[task]["image"]), np.float32) for task in SD15_TASKS]
    assert all(image.std() > 0 for image in images)  # a picture, not a flat fill


def test_sd15_tabs_together_cost_less_memory_than_apart(fixtures, sd15_all, record_property):
    """Peak and loaded RSS of the four tabs in one engine against the sum of each tab loaded alone: sharing saves at
    least 80% of the shared weights' bytes (VAE and text encoder twice, the base UNet once, in fp32)."""
    alone = {task: run_probe(fixtures, "sd15", [task], load_only=True) for task in SD15_TASKS}
    counts = json.loads((fixtures / MANIFEST).read_text())["parameters_m"]
    shared_bytes = (2 * (counts["vae"] + counts["text_encoder"]) + counts["stable-diffusion-v1-5/unet"]) * 1e6 * FP32

    def model_rss(report: dict) -> int:
        return (report["rss_loaded_mib"] - report["rss_start_mib"]) * MIB

    apart = sum(model_rss(report) for report in alone.values())
    together = model_rss(sd15_all)
    figures = {
        "together_loaded_mib": together // MIB,
        "apart_loaded_mib": apart // MIB,
        "together_peak_mib": sd15_all["rss_peak_mib"],
        "apart_peak_mib": {task: report["rss_peak_mib"] for task, report in alone.items()},
        "shared_weights_mib": round(shared_bytes / MIB),
    }
    record_property("sd15_rss", json.dumps(figures))
    print("sd15 RSS:", json.dumps(figures))
    assert apart - together >= 0.8 * shared_bytes, figures
    assert sd15_all["rss_peak_mib"] < sum(report["rss_peak_mib"] for report in alone.values()), figures


def test_ldm_paper_every_tab_at_full_size(fixtures, tmp_path):
    report = run_probe(fixtures, "ldm-paper", ["text2img", "upscale"], out=tmp_path)
    assert report["tasks"]["text2img"]["image_size"] == [SIZE, SIZE]
    assert report["tasks"]["upscale"]["image_size"] == [SIZE, SIZE]
    assert all(entry["finite"] for entry in report["tasks"].values())
    assert report["tasks"]["text2img"]["model"] == "ldm-text2im-large-256"


def test_a1111_files_make_the_same_images_offline_from_an_empty_hub_cache(fixtures, sd15_all, tmp_path):
    """SD 1.5, its inpainting model and the ControlNet as single original-layout files, with HF_HUB_OFFLINE=1 and an
    empty HF_HOME: the shipped configs and tokenizer suffice, and the images equal those from the diffusers folders
    (the files hold the same weights)."""
    empty_home = tmp_path / "hf_home"
    empty_home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGINGFACE"))}
    env |= {"HF_HOME": str(empty_home), "HF_HUB_OFFLINE": "1"}
    tasks = ("text2img", "inpaint", "semantic")
    report = run_probe(fixtures, "sd15-single-file", tasks, out=tmp_path / "images", env=env)
    assert report["tasks"]["text2img"]["model"] == "v1-5-pruned-emaonly-fp16"
    for task in tasks:
        from_file = np.asarray(Image.open(report["tasks"][task]["image"]), np.int16)
        from_folder = np.asarray(Image.open(sd15_all["tasks"][task]["image"]), np.int16)
        assert np.abs(from_file - from_folder).max() <= 1, task
    assert not any(empty_home.rglob("*.json")), "nothing may be fetched into the hub cache"
