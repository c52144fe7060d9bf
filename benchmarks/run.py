"""Benchmark every tab against bare diffusers: `python -m benchmarks.run [--quick] [--family PATH]`.

Prints a table and appends one dated record (hardware, versions, git commit, load average, every number) to
benchmarks/results.jsonl; draws benchmarks/latency.png. See BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may download

import torch  # noqa: E402

from benchmarks import engine_bench, process_bench, report, sd15  # noqa: E402
from benchmarks.common import (  # noqa: E402
    DEFAULT_FAMILY,
    REPO_ROOT,
    TASKS,
    git_commit,
    hardware_info,
    load_average,
    make_engine,
    resolve_family,
    utc_now,
)

logger = logging.getLogger("benchmarks")
RESULTS = REPO_ROOT / "benchmarks" / "results.jsonl"
PLOT = REPO_ROOT / "benchmarks" / "latency.png"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", type=Path, default=DEFAULT_FAMILY, help="built-in family folder")
    parser.add_argument("--quick", action="store_true", help="2 timed runs per number instead of 5, fewer steps")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per number (default 5, --quick 2)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads, here and in the subprocesses (default: torch's)"
    )
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument(
        "--dtype", choices=["auto", "fp32"], default="auto", help="auto: as the app runs (bf16 autocast on such CPUs)"
    )
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--skip-memory", action="store_true", help="no per-task subprocess memory probes")
    parser.add_argument("--skip-cpu-sd15", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON-lines file to append the record to")
    parser.add_argument("--plot", type=Path, default=PLOT)
    return parser.parse_args(argv)


def _timed(name: str, run: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one section; its result goes to the log at once, so an interrupted run still leaves its numbers."""
    started = time.perf_counter()
    logger.info("%s ...", name)
    result = run(*args, **kwargs)
    logger.info("%s done in %.1f s: %s", name, time.perf_counter() - started, json.dumps(result))
    return result


def run_benchmarks(args: argparse.Namespace, scratch: Path, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every section in order, filling `record`; a section that is skipped records why instead of numbers."""
    repeats = args.repeats or (2 if args.quick else 5)
    tasks = tuple(args.tasks)
    threads_before, omp_before = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the subprocesses (memory probes, the app) start with it
    try:
        return _run_sections(args, scratch, repeats, tasks, {} if record is None else record)
    finally:
        torch.set_num_threads(threads_before)
        if omp_before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = omp_before


def _run_sections(
    args: argparse.Namespace, scratch: Path, repeats: int, tasks: tuple[str, ...], record: dict[str, Any]
) -> dict[str, Any]:
    record |= {"date": utc_now(), "hardware": hardware_info(), "git": git_commit()}
    record["load_average"] = {"start": record["hardware"]["load_average"]}
    family = resolve_family(args.family, scratch)
    record["family"] = family.as_dict()
    record["settings"] = {
        "device": "cpu",
        "dtype": args.dtype,
        "repeats": repeats,
        "warmup": 1,
        "quick": args.quick,
        "torch_threads": torch.get_num_threads(),
    }
    engine = make_engine(family.path, args.dtype)
    record["latency"] = _timed("latency per task", engine_bench.task_latency, engine, tasks, repeats)
    sweep_steps = (5, 10, 25) if args.quick else engine_bench.SWEEP_STEPS
    sweep_repeats = max(1, min(repeats, 3))
    record["steps_sweep"] = _timed(
        "latency against steps", engine_bench.steps_sweep, engine, "text2img", sweep_steps, sweep_repeats
    )
    record["overhead"] = _timed("engine overhead", engine_bench.engine_overhead, engine, max(repeats, 3))
    del engine
    if args.skip_memory:
        record["peak_memory"] = {"skipped": "--skip-memory"}
    else:
        record["peak_memory"] = _timed("peak memory", process_bench.peak_memory, family.path, tasks)
    if args.skip_cold_start:
        record["cold_start"] = {"skipped": "--skip-cold-start"}
    else:
        record["cold_start"] = _timed("cold start", process_bench.cold_start, family.path)
    if args.skip_cpu_sd15:
        record["cpu_sd15"] = {"skipped": "--skip-cpu-sd15"}
    else:
        steps = 2 if args.quick else 3
        record["cpu_sd15"] = _timed("SD 1.5 on CPU", sd15.cpu_sd15, steps=steps)
    record["gpu"] = _timed("SD 1.5 on GPU", sd15.gpu_sd15)
    record["load_average"]["end"] = load_average()
    return record


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _interrupt)
    record: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="ldm-bench-") as scratch:
            run_benchmarks(args, Path(scratch), record)
    except KeyboardInterrupt:
        if "latency" not in record:
            raise
        record["interrupted"] = True  # keep what was measured; the missing sections are absent from the record
        record["load_average"]["end"] = load_average()
        logger.warning("interrupted: writing the sections measured so far")
    report.append_record(record, args.results)
    plot = report.plot_latency(record, args.plot)
    if record["family"]["built_now"]:
        print("\n" + "!" * 100 + f"\n{record['family']['note']}\n" + "!" * 100)
    print("\n" + report.format_record(record))
    print(f"\nrecord appended to {args.results}; plot saved to {plot}")
    return record


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
