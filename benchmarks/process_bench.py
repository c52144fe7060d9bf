"""Benchmarks that need a fresh process: cold start of the app, and peak resident memory of each task.

`python -m benchmarks.process_bench probe --family PATH --task TASK` is the per-task probe: it runs one request in
its own interpreter and prints one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common import PROMPT, REPO_ROOT, TASKS, recorded_path

logger = logging.getLogger(__name__)
MIB = 1024**2
READY_TIMEOUT_S = 300.0
CHILD_ENV = {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _child_env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return os.environ | CHILD_ENV | {"PYTHONPATH": path}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@contextlib.contextmanager
def app_process(
    command: list[str],
    url: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
    poll_s: float = 0.5,
) -> Iterator[subprocess.Popen]:
    """`command` (the app) in a subprocess logging to `log_path` until the block ends; yields it once `url` answers.

    Stopped as by Ctrl-C (SIGINT: the app stops its replicas and its Ray instance with it), killed if it lingers.
    """
    with log_path.open("wb") as log:
        app = subprocess.Popen(
            command, cwd=REPO_ROOT, env=_child_env() | (env or {}), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        started = time.perf_counter()
        while not _answers(url):
            if app.poll() is not None or time.perf_counter() - started > ready_timeout:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the app did not come up (exit code {app.poll()}):\n{tail}")
            time.sleep(poll_s)
        yield app
    finally:
        app.send_signal(signal.SIGINT)
        try:
            app.wait(timeout=120)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


def cold_start(family: Path) -> dict[str, Any]:
    """Seconds from spawning `python app.py` to the page answering, and to the first text2img image via the API.

    The app runs as users start it (its own flags; CPU, offline, no saving), so import, UI build and launch count.
    """
    from gradio_client import Client

    port = free_port()
    command = [sys.executable, "app.py", "--model-dir", str(family), "--port", str(port)]
    command += ["--device", "cpu", "--offline", "--no-save"]
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        with app_process(command, url, Path(folder) / "app.log", poll_s=0.05):
            ready = time.perf_counter() - started
            client = Client(url, verbose=False)
            client.predict(prompt=PROMPT, seed=1, api_name="/text2img")  # every other setting at the UI default
            first_image = time.perf_counter() - started
    return {
        "app_ready_s": round(ready, 3),
        "first_image_s": round(first_image, 3),
        "command": " ".join(["python", *command[1:3], recorded_path(family), *command[4:]]),
        "first_request": "gradio_client /text2img, UI defaults",
    }


def peak_memory(family: Path, tasks: tuple[str, ...] = TASKS) -> dict[str, Any]:
    """Peak resident memory of one request per task, each in a fresh interpreter (ru_maxrss never goes down)."""
    results: dict[str, Any] = {}
    for task in tasks:
        command = [sys.executable, "-m", "benchmarks.process_bench", "probe", "--family", str(family), "--task", task]
        finished = subprocess.run(command, cwd=REPO_ROOT, env=_child_env(), capture_output=True, text=True)
        if finished.returncode != 0:
            raise RuntimeError(f"memory probe for {task} exited {finished.returncode}:\n{finished.stderr[-2000:]}")
        results[task] = json.loads(finished.stdout.strip().splitlines()[-1])
        logger.info("%s: peak RSS %.0f MiB", task, results[task]["peak_rss_mib"])
    return results


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def probe(family: Path, task: str) -> dict[str, Any]:
    """Import, load the task's pipeline, run one default request; resident memory at each stage and the peak."""
    import psutil
    import torch

    from .common import make_engine, task_request

    process = psutil.Process()
    after_import = process.memory_info().rss / MIB
    engine = make_engine(family)
    engine.load(task)
    after_load = process.memory_info().rss / MIB
    engine.run(task_request(task))
    return {
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "rss_after_import_mib": round(after_import, 1),
        "rss_after_load_mib": round(after_load, 1),
        "rss_after_run_mib": round(process.memory_info().rss / MIB, 1),
        "torch_threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="per-task peak memory probe (used by benchmarks.run)")
    parser.add_argument("mode", choices=["probe"])
    parser.add_argument("--family", type=Path, required=True)
    parser.add_argument("--task", choices=TASKS, required=True)
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(probe(args.family, args.task)) + "\n")


if __name__ == "__main__":
    main()
