"""CPU figures at full size: seconds per denoising step at 256x256 for every tab of sd15 and ldm-paper, resident
memory of each sd15 tab alone and of all four in one engine. Random weights (speed and memory do not depend on them).

    python -m benchmarks.fullsize_bench [--fixtures DIR] [--threads N] [--size 256] [--steps 4]

Each scenario runs in its own process (benchmarks.fullsize_probe). Prints one JSON object and a Markdown table;
the load average before and after each scenario is part of the record (the numbers are only as quiet as the machine).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .common import REPO_ROOT, git_commit, hardware_info, load_average, utc_now
from .fixtures import DEFAULT_OUT, build

SD15_TASKS = ("text2img", "inpaint", "semantic", "upscale")


def probe(fixtures: Path, preset: str, tasks: tuple[str, ...], size: int, steps: int, threads: int, load_only: bool):
    command = [sys.executable, "-m", "benchmarks.fullsize_probe", "--fixtures", str(fixtures), "--preset", preset]
    command += ["--tasks", ",".join(tasks), "--size", str(size), "--steps", str(steps), "--threads", str(threads)]
    command += ["--load-only"] if load_only else []
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{preset} {tasks} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(fixtures: Path, size: int, steps: int, threads: int) -> dict[str, Any]:
    record: dict[str, Any] = {"when": utc_now(), "git": git_commit(), "hardware": hardware_info()}
    record |= {"size": size, "steps": steps, "threads": threads}
    record["load_average_start"] = load_average()
    record["sd15_together"] = probe(fixtures, "sd15", SD15_TASKS, size, steps, threads, load_only=False)
    record["ldm_paper"] = probe(fixtures, "ldm-paper", ("text2img", "upscale"), size, steps, threads, load_only=False)
    record["sd15_alone"] = {
        task: probe(fixtures, "sd15", (task,), size, steps, threads, load_only=True) for task in SD15_TASKS
    }
    record["load_average_end"] = load_average()
    return record


def table(record: dict[str, Any]) -> str:
    together = record["sd15_together"]
    rows = [
        "| preset / tab | s/step | whole call s | load s | RSS alone (loaded / peak) MiB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for preset, report in (("sd15", together), ("ldm-paper", record["ldm_paper"])):
        for task, entry in report["tasks"].items():
            alone = record["sd15_alone"].get(task) if preset == "sd15" else None
            rss = f"{alone['rss_loaded_mib']} / {alone['rss_peak_mib']}" if alone else "-"
            rows.append(
                f"| {preset} {task} | {entry.get('seconds_per_step', '-')} | {entry.get('run_s', '-')} | "
                f"{entry['load_s']} | {rss} |"
            )
    alone_sum = sum(report["rss_loaded_mib"] - report["rss_start_mib"] for report in record["sd15_alone"].values())
    rows.append(
        f"\nsd15, all four tabs in one engine: {together['rss_loaded_mib']} MiB loaded, {together['rss_peak_mib']} MiB "
        f"peak (after imports {together['rss_start_mib']} MiB); models alone, summed: {alone_sum} MiB, together: "
        f"{together['rss_loaded_mib'] - together['rss_start_mib']} MiB. "
        f"Load average {record['load_average_start']} -> {record['load_average_end']}."
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the record here")
    args = parser.parse_args()
    fixtures = build(args.fixtures)
    record = run(fixtures, args.size, args.steps, args.threads)
    if args.json:
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record))
    print(table(record))


if __name__ == "__main__":
    main()
