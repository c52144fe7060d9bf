"""What every benchmark shares: the hardware record, a timer, the family under test and one request per task."""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"
DEFAULT_FAMILY = REPO_ROOT / "assets" / "builtin"
TASKS = ("text2img", "semantic", "inpaint", "upscale")
SEED = 1234
PROMPT = "a green valley with a river and mountains, photo"


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (runnable processes; compare with the core count)."""
    return [round(value, 2) for value in os.getloadavg()]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def git_commit() -> dict[str, Any]:
    """HEAD and whether the tracked files differ from it (a dirty tree means the numbers may not match HEAD)."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        return result.stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain", "-uno"))}


def hardware_info() -> dict[str, Any]:
    """CPU, cores, RAM, GPU (when CUDA is present), library versions and the load average right now."""
    import psutil
    import torch

    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "torch_threads": torch.get_num_threads(),
        "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "diffusers": _package_version("diffusers"),
        "transformers": _package_version("transformers"),
        "gradio": _package_version("gradio"),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average": load_average(),
        "nice": psutil.Process().nice(),  # this process's priority; the machine's other jobs may run above it
    }
    return info


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- timing --------------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Wall-clock seconds of repeated runs, and this process's CPU seconds for each (steadier on a busy machine)."""

    runs: list[float]
    cpu_runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_dict(self) -> dict[str, Any]:
        timing = {
            "median_s": round(self.median, 4),
            "min_s": round(min(self.runs), 4),
            "max_s": round(max(self.runs), 4),
            "runs_s": [round(run, 4) for run in self.runs],
        }
        if self.cpu_runs:
            timing["median_cpu_s"] = round(statistics.median(self.cpu_runs), 4)
            timing["cpu_runs_s"] = [round(run, 4) for run in self.cpu_runs]
        return timing


class Stopwatch:
    """Wall and process CPU time of a `with` block."""

    def __enter__(self) -> Stopwatch:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def time_calls(call: Callable[[], Any], repeats: int, warmup: int = 1) -> tuple[Timing, Any]:
    """Timing of `repeats` calls after `warmup` untimed ones, and the last call's result."""
    for _ in range(warmup):
        call()
    timing, result = Timing([], []), None
    for _ in range(repeats):
        with Stopwatch() as watch:
            result = call()
        timing.runs.append(watch.wall)
        timing.cpu_runs.append(watch.cpu)
    return timing, result


def recorded_path(path: Path | str) -> str:
    """How a record names a path: relative to the repository, or only its name (tagged) when it lies outside, so that
    no record carries the layout of the machine it ran on."""
    path = Path(path).resolve()
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return f"<outside the repository>/{path.name}"


# --- the family under test ------------------------------------------------------------------------------------------


@dataclass
class FamilyInfo:
    path: Path
    random_weights: bool
    built_now: bool  # True: the requested folder had no family, a tiny random one was built for this run
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": recorded_path(self.path),
            "random_weights": self.random_weights,
            "built_now": self.built_now,
            "note": self.note,
        }


def resolve_family(requested: Path, scratch: Path) -> FamilyInfo:
    """The family at `requested`, or (when it has no family.json) a tiny random family built under `scratch`."""
    from ldm_core.family import FAMILY_FILE, build_random_family

    family_file = requested / FAMILY_FILE
    if family_file.exists():
        metadata = json.loads(family_file.read_text())
        random_weights = bool(metadata.get("random_weights", False))
        note = "random weights (speed is what is measured)" if random_weights else "trained weights"
        return FamilyInfo(requested.resolve(), random_weights, False, f"{note}; size {metadata.get('size', 'full')}")
    path = build_random_family(scratch / "tiny_family", size="tiny", seed=0)
    note = (
        f"NO FAMILY AT {recorded_path(requested)}: built a TINY RANDOM family at {recorded_path(path)}; "
        "these numbers measure the engine's overhead on toy models, not the built-in family's speed"
    )
    logger.warning(note)
    return FamilyInfo(path, True, True, note)


def make_engine(family: Path, dtype: str = "auto") -> Any:
    """The engine as the app runs it here: CPU, dtype auto (bf16 autocast where native), offline, no saving."""
    from ldm_core import Engine, EngineConfig

    config = EngineConfig(
        model_root=family, device="cpu", dtype=dtype, offload="none", offline=True, save_outputs=False
    )
    return Engine(config)


def _example(relative: str, fallback_size: int) -> Image.Image:
    path = EXAMPLES / relative
    if path.exists():
        return Image.open(path).convert("RGB")
    logger.warning("%s is missing; using a flat grey image", path)
    return Image.new("RGB", (fallback_size, fallback_size), (120, 140, 160))


def task_request(task: str, **sampling: Any) -> Any:
    """One request per task, default settings (steps, guidance, sampler), a fixed seed; `sampling` overrides."""
    from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest

    options = {"seed": SEED} | sampling
    if task == "text2img":
        return TextToImageRequest(prompt=PROMPT, **options)
    if task == "semantic":
        return SemanticMapRequest(color_map=_example("semantic/lake_mountains.png", 256), **options)
    if task == "inpaint":
        image = _example("images/lake_mountains.png", 128)
        mask = np.zeros((image.height, image.width), np.uint8)
        mask[image.height // 4 : 3 * image.height // 4, image.width // 4 : 3 * image.width // 4] = 255
        return InpaintRequest(image=image, mask=Image.fromarray(mask), prompt="a house", **options)
    if task == "upscale":
        return UpscaleRequest(image=_example("images/lake_mountains.png", 128), **options)  # 128->512: the speed bar
    raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")


def describe_request(request: Any) -> dict[str, Any]:
    """The settings a latency number belongs to."""
    described: dict[str, Any] = {
        "steps": request.num_inference_steps,
        "guidance_scale": request.guidance_scale,
        "scheduler": request.scheduler,
        "batch_size": request.batch_size,
    }
    image = getattr(request, "image", None) or getattr(request, "color_map", None)
    if image is not None:
        described["input_size"] = f"{image.width}x{image.height}"
    return described
