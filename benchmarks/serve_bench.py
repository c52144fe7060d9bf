"""Throughput of engine replicas on Ray Serve against the in-process engine, as users drive the app.

`python -m benchmarks.serve_bench [--requests 20] [--replicas 1 2] [--one-job-per-replica]`
(needs `pip install -r requirements-serve.txt`)

Each configuration is `python app.py` as users start it (CPU, built-in family, outputs saved, five logins), on a
free loopback port: first the in-process engine (torch's default threads), then `--serve ray --replicas N` (one torch
thread per replica). After one warm-up request per tab, `--requests` gradio_client requests are submitted at once by
the five users (a class), round-robin over the four generating tabs at their UI defaults; the wall time from the
first submission to the last answer gives requests per minute. The in-process engine also runs with one torch
thread (the baseline is the first in-process row). Prints one markdown table (with the load average before and
after each configuration).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/serve_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import EXAMPLES, PROMPT, load_average  # noqa: E402
from benchmarks.process_bench import app_process, free_port  # noqa: E402

logger = logging.getLogger("benchmarks.serve")
READY_TIMEOUT_S = 900.0
BURST_TIMEOUT_S = 1800.0
TABS = ("/text2img", "/semantic", "/inpaint", "/upscale")
STARTED = re.compile(r"started on replica (\w+)")
# A class: five logins, since the app admits at most 4 queued or running jobs per user (per address without logins).
STUDENTS = [(f"student{index}", f"bench-{index}-pass") for index in range(5)]


@contextlib.contextmanager
def running_app(flags: list[str], log_path: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """The app in a subprocess (its log in `log_path`) until the block ends; yields its URL once it answers."""
    port = free_port()
    command = [sys.executable, "app.py", "--port", str(port), "--device", "cpu", "--offline", "--max-queue", "64"]
    command += ["--max-request-seconds", "3600"]  # the work budget measures this loaded machine: refuse nothing here
    command += flags
    url = f"http://127.0.0.1:{port}/"
    with app_process(command, url, log_path, env, ready_timeout=READY_TIMEOUT_S):
        logger.info("%s ready", " ".join(flags) or "in-process")
        yield url


def tab_request(index: int, inputs: dict[str, Path]) -> tuple[str, dict[str, Any]]:
    """The tabs in turn, at their UI defaults (15 DPM++ 2M steps), each with its own seed."""
    from gradio_client import handle_file

    task, seed = TABS[index % len(TABS)], 100 + index
    if task == "/text2img":
        return task, {"prompt": PROMPT, "seed": seed}
    if task == "/semantic":
        editor = {"background": handle_file(str(inputs["map"])), "layers": [], "composite": None}
        return task, {"semantic_map": editor, "seed": seed}
    if task == "/inpaint":
        editor = {
            "background": handle_file(str(inputs["photo"])),
            "layers": [handle_file(str(inputs["mask"]))],
            "composite": None,
        }
        return task, {"image_and_mask": editor, "prompt": "a house", "seed": seed}
    return task, {"image": handle_file(str(inputs["photo"])), "seed": seed}


def make_inputs(folder: Path) -> dict[str, Path]:
    from PIL import Image

    photo = Image.open(EXAMPLES / "images" / "lake_mountains.png").convert("RGB")
    mask = Image.new("RGBA", photo.size, (0, 0, 0, 0))
    quarter = (photo.width // 4, photo.height // 4, 3 * photo.width // 4, 3 * photo.height // 4)
    mask.paste((255, 255, 255, 255), quarter)
    paths = {"photo": folder / "photo.png", "mask": folder / "mask.png", "map": folder / "map.png"}
    paths["logins"] = folder / "logins.txt"
    paths["logins"].write_text("".join(f"{user}:{password}\n" for user, password in STUDENTS))
    photo.save(paths["photo"])
    mask.save(paths["mask"])
    Image.open(EXAMPLES / "semantic" / "lake_mountains.png").convert("RGB").save(paths["map"])
    return paths


def burst(url: str, inputs: dict[str, Path], requests: int) -> dict[str, Any]:
    """Warm up (one request per tab), then `requests` submitted at once; wall time, latencies, failures."""
    from gradio_client import Client

    warm = Client(url, auth=STUDENTS[0], verbose=False)
    for index in range(len(TABS)):
        task, kwargs = tab_request(index, inputs)
        warm.predict(**kwargs, api_name=task)
    warm.close()
    clients = [
        Client(url, auth=STUDENTS[index % len(STUDENTS)], verbose=False, httpx_kwargs={"timeout": BURST_TIMEOUT_S})
        for index in range(requests)
    ]
    started = time.perf_counter()
    jobs, finished_at = [], {}
    for index, client in enumerate(clients):
        task, kwargs = tab_request(index, inputs)
        job = client.submit(**kwargs, api_name=task)
        job.add_done_callback(lambda _, index=index: finished_at.setdefault(index, time.perf_counter()))
        jobs.append((time.perf_counter(), job))
    latencies, failures = [], []
    for index, (submitted, job) in enumerate(jobs):
        try:
            job.result(timeout=BURST_TIMEOUT_S)
            latencies.append(finished_at.get(index, time.perf_counter()) - submitted)  # when it finished, not read
        except Exception as error:  # noqa: BLE001 (counted and printed)
            failures.append(f"{type(error).__name__}: {error}")
    wall = time.perf_counter() - started
    for client in clients:
        client.close()
    ordered = sorted(latencies)
    return {
        "served": len(latencies),
        "failed": len(failures),
        "failures": failures[:3],
        "wall_s": round(wall, 1),
        "requests_per_min": round(60 * len(latencies) / wall, 1),
        "median_latency_s": round(statistics.median(ordered), 1) if ordered else None,
        "p95_latency_s": round(ordered[max(0, int(0.95 * len(ordered)) - 1)], 1) if ordered else None,
    }


def run(
    replica_counts: list[int], requests: int, in_process: str = "both", one_job_per_replica: bool = False
) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as scratch:
        folder = Path(scratch)
        inputs = make_inputs(folder)
        ray = ["--serve", "ray", "--replicas"]
        configurations = []
        if in_process in ("default", "both"):
            configurations.append(("in-process engine, torch's default threads", [], {}))
        if in_process in ("one", "both"):
            configurations.append(
                ("in-process engine, 1 torch thread (OMP_NUM_THREADS=1)", [], {"OMP_NUM_THREADS": "1"})
            )
        served = [
            (count, f"Ray Serve, {count} replica{'s' if count > 1 else ''} x 1 thread", [*ray, str(count)])
            for count in sorted(replica_counts, reverse=True)
        ]
        configurations += [(name, flags, {}) for _, name, flags in served]
        if one_job_per_replica:  # the app hands each replica its next job only once it has answered the last
            configurations += [
                (f"{name}, one job per replica (--concurrency {count})", [*flags, "--concurrency", str(count)], {})
                for count, name, flags in served
            ]
        for index, (name, flags, env) in enumerate(configurations):
            log = folder / f"app-{index}.log"
            before = load_average()
            options = [*flags, "--outputs", str(folder / f"outputs-{index}"), "--auth-file", str(inputs["logins"])]
            with running_app(options, log, env) as url:
                row = {"configuration": name, "load_before": before} | burst(url, inputs, requests)
            row["load_after"] = load_average()
            used = Counter(STARTED.findall(log.read_text(errors="replace")))
            row["replicas_used"] = len(used) if flags else None
            rows.append(row)
            logger.info("%s", row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    base = rows[0]["requests_per_min"] or float("nan")
    lines = [
        "| configuration | served | failed | wall s | requests/min | vs in-process | median latency s | p95 s "
        "| replicas used | load avg before → after (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['configuration']} | {row['served']} | {row['failed']} | {row['wall_s']} | "
            f"{row['requests_per_min']} | {row['requests_per_min'] / base:.2f}x | {row['median_latency_s']} | "
            f"{row['p95_latency_s']} | {row['replicas_used'] or '-'} | "
            f"{row['load_before'][0]} → {row['load_after'][0]} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="requests submitted at once (default 20)")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2], help="replica counts to try (1 2)")
    parser.add_argument(
        "--in-process",
        choices=["default", "one", "both"],
        default="both",
        help="the in-process engine with torch's default threads, one thread, or both (the first is the baseline)",
    )
    parser.add_argument(
        "--one-job-per-replica",
        action="store_true",
        help="also run each replica count with --concurrency equal to it (the default hands two jobs per replica)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per file the clients fetch
    rows = run(args.replicas, args.requests, args.in_process, args.one_job_per_replica)
    print(f"\n{args.requests} requests at once over the four tabs (UI defaults), after one warm-up per tab:\n")
    print(table(rows))


if __name__ == "__main__":
    main()
