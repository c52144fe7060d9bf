"""Turning a benchmark record into a table, a plot and a line of `results.jsonl`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def append_record(record: dict[str, Any], path: Path) -> None:
    """One JSON object per line; earlier records are kept (the file is the history)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as results:
        results.write(json.dumps(record, sort_keys=False) + "\n")


def _row(cells: list[str], widths: list[int]) -> str:
    return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [_row(header, widths), "|" + "|".join("-" * (width + 2) for width in widths) + "|"]
    return "\n".join(lines + [_row([str(cell) for cell in row], widths) for row in rows])


def _skipped(section: Any) -> str | None:
    return section.get("skipped") if isinstance(section, dict) else "not run"


def format_record(record: dict[str, Any]) -> str:
    """The whole record as Markdown: hardware line, per-task table, overhead, cold start, SD 1.5 sections."""
    hardware, load = record["hardware"], record["load_average"]
    dirty = " (dirty tree)" if record["git"]["dirty"] else ""
    lines = [
        f"- Date {record['date']} · commit {record['git']['commit'][:10]}{dirty}",
        f"- CPU {hardware['cpu_model']} · {hardware['logical_cores']} logical cores · {hardware['ram_gib']} GiB RAM · "
        f"torch {hardware['torch']} ({hardware['torch_threads']} threads) · diffusers {hardware['diffusers']}",
        f"- Load average (1/5/15 min) at start {load['start']}, at end {load['end']}"
        f" on {hardware['logical_cores']} cores: numbers taken on a busy machine are noisy",
        f"- Family: {record['family']['path']} ({record['family']['note']})",
        "",
    ]
    memory = record.get("peak_memory", {})
    rows = []
    for task, latency in record["latency"].items():
        peak = memory.get(task, {}).get("peak_rss_mib") if isinstance(memory, dict) else None
        rows.append(
            [
                task,
                f"{latency['median_s']:.3f}",
                f"{latency['min_s']:.3f}–{latency['max_s']:.3f}",
                f"{latency['median_cpu_s']:.3f}" if "median_cpu_s" in latency else "-",
                str(len(latency["runs_s"])),
                str(latency["steps"]),
                latency.get("input_size", "-"),
                latency["output_size"],
                f"{peak:.0f}" if peak else "-",
            ]
        )
    header = ["task", "median s", "range s", "CPU s", "runs", "steps", "input", "output", "peak RSS MiB"]
    lines += [markdown_table(header, rows), ""]
    sweep = record.get("steps_sweep")
    if sweep:
        points = ", ".join(f"{p['steps']} steps {p['median_s']:.3f} s" for p in sweep["points"])
        lines.append(
            f"- {sweep['task']} against steps: {points}; {sweep['seconds_per_step'] * 1000:.1f} ms per step + "
            f"{sweep['fixed_seconds']:.3f} s fixed"
        )
    overhead = record.get("overhead")
    if overhead:
        lines.append(
            f"- Engine overhead ({overhead['task']}, {overhead['request']['steps']} steps): engine "
            f"{overhead['engine']['median_s']:.4f} s, bare diffusers {overhead['bare_diffusers']['median_s']:.4f} s, "
            f"ratio {overhead['ratio']:.3f} (median per-pair ratio {overhead['median_pair_ratio']:.3f}, CPU-time ratio "
            f"{overhead.get('cpu_ratio', float('nan')):.3f}; goal <= "
            f"{overhead['goal']}); same image: {overhead['same_image']}"
        )
    cold = record.get("cold_start")
    if _skipped(cold):
        lines.append(f"- Cold start: skipped ({_skipped(cold)})")
    else:
        lines.append(
            f"- Cold start: app answering {cold['app_ready_s']:.2f} s, first image {cold['first_image_s']:.2f} s"
        )
    cpu = record.get("cpu_sd15")
    if _skipped(cpu):
        lines.append(f"- SD 1.5 architecture, CPU: skipped ({_skipped(cpu)})")
    else:
        lines.append(
            f"- SD 1.5 architecture (random weights), CPU {cpu['size']}², fp32, CFG {cpu['guidance_scale']}: "
            f"{cpu['seconds_per_step']:.2f} s per step ({cpu['steps']} steps; whole call {cpu['call_s']:.1f} s)"
        )
    lines.append("- " + gpu_summary(record.get("gpu")))
    return "\n".join(lines)


def gpu_summary(gpu: dict[str, Any] | None) -> str:
    if _skipped(gpu):
        return f"GPU: skipped: {_skipped(gpu)}"
    assert gpu is not None
    rows = [
        [name, f"{mode['it_per_s']:.2f}", f"{mode['peak_allocated_gib']:.2f}", f"{mode['peak_reserved_gib']:.2f}"]
        for name, mode in gpu["modes"].items()
    ]
    fast = gpu.get("fast", {})
    if "it_per_s" in fast:
        rows.append(
            [
                "fast (compile)",
                f"{fast['it_per_s']:.2f}",
                f"{fast['peak_allocated_gib']:.2f}",
                f"{fast['peak_reserved_gib']:.2f}",
            ]
        )
    table = markdown_table(["memory mode", "it/s", "peak allocated GiB", "peak reserved GiB"], rows)
    return f"GPU {gpu['gpu']}, SD 1.5 architecture 512² fp16 batch 1, {gpu['steps']} steps:\n\n{table}"


def plot_latency(record: dict[str, Any], path: Path) -> Path:
    """Two panels: median latency per task (range as error bars), and latency against steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latency = record["latency"]
    figure, (per_task, sweep_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    tasks = list(latency)
    medians = [latency[task]["median_s"] for task in tasks]
    errors = [
        [m - latency[t]["min_s"] for t, m in zip(tasks, medians, strict=True)],
        [latency[t]["max_s"] - m for t, m in zip(tasks, medians, strict=True)],
    ]
    bars = per_task.bar(tasks, medians, yerr=errors, capsize=4, color="#4c78a8")
    per_task.bar_label(bars, labels=[f"{m:.2f}" for m in medians], padding=3)
    per_task.set_ylabel("seconds per image (median)")
    steps = {latency[t]["steps"] for t in tasks}
    per_task.set_title(f"Latency per task, CPU, {'/'.join(map(str, sorted(steps)))} steps")
    sweep = record.get("steps_sweep")
    if sweep:
        xs = [p["steps"] for p in sweep["points"]]
        sweep_axis.plot(xs, [p["median_s"] for p in sweep["points"]], "o-", color="#f58518")
        sweep_axis.fill_between(
            xs, [p["min_s"] for p in sweep["points"]], [p["max_s"] for p in sweep["points"]], alpha=0.2, color="#f58518"
        )
        sweep_axis.set_xlabel("num_inference_steps")
        sweep_axis.set_ylabel("seconds (median)")
        sweep_axis.set_title(f"{sweep['task']}: {sweep['seconds_per_step'] * 1000:.0f} ms/step")
    load = record["load_average"]["start"][0]
    figure.suptitle(
        f"{record['family']['note'][:80]} · {record['date']} · load {load} on {record['hardware']['logical_cores']}"
        " cores",
        fontsize=9,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
