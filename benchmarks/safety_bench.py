"""Times behind the sharing bars, on loopback, printed with the load average (tests assert behaviour, not these).

1. Submit-and-cancel 10 heavy text-to-image jobs, then another user's tiny request: seconds from its submission to its
   first denoising step, next to the heavy job's seconds per step; PNGs saved by cancelled jobs.
2. PNG info on a PNG with a 3 MB text chunk: seconds to answer, and the slowest `GET /config` meanwhile.
3. 200 wrong logins from one client: seconds, how many were checked, and the checked rate after the free tries.

    python -m benchmarks.safety_bench [--family assets/builtin]   (default: a tiny random family)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import torch
from gradio_client import Client, handle_file
from PIL import Image, PngImagePlugin

from ldm_core import Engine, EngineConfig
from ldm_core.infotext import parse_infotext, read_infotext
from ui import build_demo

LOGINS = {"ana": "ana-pass", "bo": "bo-pass"}


class StepClock:
    """Engine proxy: the time of every denoising step, per run, and each run's step count."""

    def __init__(self, engine: Engine):
        self.engine, self.config = engine, engine.config
        self.steps: list[tuple[int, float]] = []  # (steps asked, time)
        self.lock = threading.Lock()

    def run(self, request, progress=None, cancel=None, **kwargs):
        def record(event):
            with self.lock:
                self.steps.append((request.num_inference_steps, time.monotonic()))
            if progress is not None:
                progress(event)

        return self.engine.run(request, progress=record, cancel=cancel, **kwargs)

    def task_status(self):
        return self.engine.task_status()

    def describe(self):
        return self.engine.describe()


def cancel_bar(url: str, clock: StepClock, outputs: Path) -> None:
    before = set(outputs.rglob("*.png"))
    attacker = Client(url, auth=("ana", LOGINS["ana"]), verbose=False)
    other = Client(url, auth=("bo", LOGINS["bo"]), verbose=False)
    for index in range(10):
        job = attacker.submit(prompt="a house", steps=150, seed=index, width=256, height=256, api_name="/text2img")
        if index == 0:
            while not any(steps == 150 for steps, _ in clock.steps):
                time.sleep(0.02)
            time.sleep(2.0)  # a few heavy steps, to time them
        job.cancel()
    submitted = time.monotonic()
    other.predict(prompt="a tree", steps=2, seed=7, api_name="/text2img")
    heavy = sorted(at for steps, at in clock.steps if steps == 150)
    first_tiny = min(at for steps, at in clock.steps if steps == 2)
    per_step = (
        statistics.median(b - a for a, b in zip(heavy, heavy[1:], strict=False)) if len(heavy) > 1 else float("nan")
    )
    saved = set(outputs.rglob("*.png")) - before
    print(
        f"cancel: heavy step {per_step:.2f} s; tiny request's first step {first_tiny - submitted:.2f} s after its "
        f"submission; heavy steps run {len(heavy)}; PNGs saved {len(saved)} (the tiny one: 1)"
    )
    attacker.close()
    other.close()


def png_bar(url: str, folder: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "Negative prompt: x, y: z, " * 120_000)  # 3.1 MB
    path = folder / "huge.png"
    Image.new("RGB", (64, 64)).save(path, pnginfo=info)
    started = time.monotonic()
    stored = read_infotext(path)
    read_s = time.monotonic() - started
    started = time.monotonic()
    parse_infotext(stored.text)
    parse_s = time.monotonic() - started
    print(f"png: read (capped at {len(stored.text):,} characters) {read_s:.3f} s, parse {parse_s:.3f} s")
    client = Client(url, auth=("ana", LOGINS["ana"]), verbose=False)
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            http.post("login", data={"username": "bo", "password": LOGINS["bo"]})
            while not done.is_set():
                started = time.monotonic()
                http.get("config")
                latencies.append(time.monotonic() - started)

    poller = threading.Thread(target=poll)
    poller.start()
    started = time.monotonic()
    client.predict(image=handle_file(path), api_name="/png_info")
    elapsed = time.monotonic() - started
    done.set()
    poller.join()
    print(
        f"png: {path.stat().st_size / 1e6:.1f} MB text chunk answered in {elapsed:.2f} s (upload included); "
        f"GET /config x{len(latencies)} meanwhile, slowest {max(latencies):.3f} s"
    )
    client.close()


def login_bar(url: str) -> None:
    codes = []
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=30) as http:
        for index in range(200):
            reply = http.post(
                "login", data={"username": "ana", "password": f"x{index}"}, headers={"X-Forwarded-For": "10.9.9.9"}
            )
            codes.append((reply.status_code, time.monotonic()))
        other = http.post(
            "login", data={"username": "ana", "password": LOGINS["ana"]}, headers={"X-Forwarded-For": "10.9.9.8"}
        )
    elapsed = time.monotonic() - started
    checked = [at for code, at in codes if code == 400]
    rate = (len(checked) - 5) / max(1e-9, checked[-1] - checked[4]) if len(checked) > 6 else 0.0
    print(
        f"login: 200 wrong tries in {elapsed:.2f} s; {len(checked)} checked ({rate:.2f}/s after the free 5), "
        f"{sum(code == 429 for code, _ in codes)} refused; last answer {codes[-1][0]}; "
        f"right password from another client: {other.status_code}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", type=Path, default=None, help="family folder (default: a tiny random family)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp(prefix="safety-bench-"))
    family = args.family
    if family is None:
        from ldm_core.family import build_random_family

        family = build_random_family(folder / "family", size="tiny", seed=0)
    engine = Engine(
        EngineConfig(model_root=family, device="cpu", dtype="fp32", offline=True, outputs_dir=folder / "out")
    )
    engine.load("text2img")
    clock = StepClock(engine)
    demo = build_demo(clock)
    demo.queue(max_size=16, default_concurrency_limit=1)
    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, auth=list(LOGINS.items())
    )
    print(f"load average at start: {' '.join(open('/proc/loadavg').read().split()[:3])}; family: {family.name}")
    try:
        cancel_bar(url, clock, folder / "out")
        png_bar(url, folder)
        login_bar(url)
    finally:
        demo.close()
    print(f"load average at end: {' '.join(open('/proc/loadavg').read().split()[:3])}; pid {os.getpid()}")


if __name__ == "__main__":
    main()
