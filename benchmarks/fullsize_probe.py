"""One process, one scenario over the full-size fixtures: load the asked tabs through the engine, run each, report.

    python -m benchmarks.fullsize_probe --fixtures DIR --preset sd15 --tasks text2img,inpaint --size 64 --steps 2

Prints one JSON line: resident memory (after imports, after loading, peak), per-task load and run seconds and the
image's size, which components the loaded pipelines share (by identity), and where each image was written. Peak RSS
only grows within a process, so every scenario gets its own: the tests compare all tabs in one process against each
tab alone. CPU, fp32 (as the app runs on a CPU), offline, nothing saved by the engine.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .common import PROMPT, SEED, load_average
from .fixtures import sources

MIB = 1024**2
SHARED_PARTS = ("vae", "text_encoder", "tokenizer", "unet")


def current_rss() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * resource.getpagesize()


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _map(size: int) -> Image.Image:
    """Two ADE20K classes: sky (6) over grass (9) colours, as the semantic tab takes them."""
    pixels = np.zeros((size, size, 3), np.uint8)
    pixels[: size // 2] = (6, 230, 230)
    pixels[size // 2 :] = (4, 250, 7)
    return Image.fromarray(pixels)


def request_for(task: str, size: int, steps: int, scheduler: str) -> Any:
    from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest

    sampling = {"num_inference_steps": steps, "seed": SEED, "scheduler": scheduler}
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))
    if task == "text2img":
        return TextToImageRequest(prompt=PROMPT, width=size, height=size, **sampling)
    if task == "inpaint":
        mask = np.zeros((size, size), np.uint8)
        mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
        return InpaintRequest(image=picture, mask=Image.fromarray(mask), prompt="a house", **sampling)
    if task == "semantic":
        return SemanticMapRequest(color_map=_map(size), prompt=PROMPT, **sampling)
    small = picture.resize((size // 4, size // 4))  # x4: the result is size x size
    return UpscaleRequest(image=small, **sampling)


def step_timer(marks: list[tuple[float, float]]) -> Any:
    """A progress callback that notes (wall, process CPU) at the start of every denoising step (not the final 100%
    event): the differences between consecutive marks are whole steps, without the first step's one-off costs."""

    def on_event(event: Any) -> None:
        if event.step < event.total_steps:
            marks.append((time.perf_counter(), time.process_time()))

    return on_event


def shared_components(pipes: dict[str, Any]) -> dict[str, list[str]]:
    """component -> the tasks whose pipelines hold the very same object as text-to-image's."""
    base = pipes.get("text2img")
    if base is None:
        return {}
    shared = {}
    for part in SHARED_PARTS:
        owner = getattr(base, part, None)
        shared[part] = sorted(
            task for task, pipe in pipes.items() if owner is not None and getattr(pipe, part, None) is owner
        )
    return shared


def run_scenario(
    fixtures: Path,
    preset: str,
    tasks: list[str],
    size: int,
    steps: int,
    out: Path | None,
    scheduler: str = "ddim",
    generate: bool = True,
) -> dict[str, Any]:
    import torch

    from ldm_core import Engine, EngineConfig

    engine_preset = "sd15" if preset == "sd15-single-file" else preset
    config = EngineConfig(
        preset=engine_preset,
        sources=sources(fixtures, preset),
        device="cpu",
        dtype="fp32",
        offload="none",
        offline=True,
        save_outputs=False,
    )
    engine = Engine(config)
    report: dict[str, Any] = {"preset": preset, "size": size, "steps": steps, "threads": torch.get_num_threads()}
    report["rss_start_mib"] = round(current_rss() / MIB)
    report["load_average_start"] = load_average()
    report["tasks"] = {}
    for task in tasks:
        started, cpu = time.perf_counter(), time.process_time()
        engine.load(task)
        report["tasks"][task] = {"load_s": round(time.perf_counter() - started, 2)}
        report["tasks"][task]["load_cpu_s"] = round(time.process_time() - cpu, 2)
    report["rss_loaded_mib"] = round(current_rss() / MIB)
    for task in tasks:
        # Inpainting and the semantic map work at the model's native size (512 for SD 1.5) whatever the input's
        # size; the UNets are convolutional, so the probe lowers it to --size to keep a CPU check small.
        loaded = engine.load(task)
        if task in ("inpaint", "semantic") and loaded.native_size > size:
            loaded.native_size = size
    for task in tasks if generate else []:
        marks: list[tuple[float, float]] = []  # (wall, process CPU) at the start of each denoising step
        cpu = time.process_time()
        result = engine.run(request_for(task, size, steps, scheduler), progress=step_timer(marks))
        image = result.images[0]
        entry = report["tasks"][task]
        entry |= {"run_s": round(sum(result.timings.values()), 2), "image_size": list(image.size)}
        entry["run_cpu_s"] = round(time.process_time() - cpu, 2)
        if len(marks) >= 2:
            intervals = len(marks) - 1
            entry["seconds_per_step"] = round((marks[-1][0] - marks[0][0]) / intervals, 3)
            entry["cpu_seconds_per_step"] = round((marks[-1][1] - marks[0][1]) / intervals, 3)
        entry["finite"] = bool(np.isfinite(np.asarray(image, np.float32)).all())
        entry["model"] = result.model
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{preset}-{task}.png"
            image.save(path)
            entry["image"] = str(path)
    report["shared"] = shared_components({task: engine.load(task).pipe for task in tasks})
    report["rss_peak_mib"] = round(peak_rss() / MIB)
    report["load_average_end"] = load_average()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path, required=True)
    parser.add_argument("--preset", choices=("sd15", "ldm-paper", "sd15-single-file"), required=True)
    parser.add_argument("--tasks", required=True, help="comma-separated, e.g. text2img,inpaint,semantic,upscale")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write each image here as PNG")
    parser.add_argument("--load-only", action="store_true", help="load the tabs, generate nothing")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(args.threads)
    tasks = args.tasks.split(",")
    report = run_scenario(
        args.fixtures, args.preset, tasks, args.size, args.steps, args.out, generate=not args.load_only
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
