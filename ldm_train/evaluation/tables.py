"""The evaluation's output: the markdown table (every value with its 95% interval), results.json, the sample grids."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image


@dataclass
class Row:
    metric: str
    value: float
    low: float = float("nan")  # 95% bootstrap interval
    high: float = float("nan")
    bar: str = ""
    ok: bool | None = None  # None: no bar
    decided: bool = True  # False: the deciding interval spans the bar (undecided at this n)

    def cells(self) -> list[str]:
        verdict = "-" if self.ok is None else ("met" if self.ok else "NOT met")
        if self.ok is not None and not self.decided:
            verdict = "undecided: the interval spans the bar"
        interval = "" if np.isnan(self.low) else f"{self.low:.3f} – {self.high:.3f}"
        return [self.metric, f"{self.value:.3f}", interval, self.bar, verdict]


def inception_note() -> str:
    candidates = list(Path.home().glob(".cache/torch/hub/checkpoints/*inception*"))
    if not candidates:
        return (
            "Inception FID: not computed — no Inception weights on disk (torch-fidelity/torchmetrics would "
            "download pt_inception-2015-12-05 into ~/.cache/torch/hub/checkpoints; this machine is offline). "
            "The Frechet Segmenter Distance above uses the project's own evaluator features instead."
        )
    return f"Inception weights found at {candidates[0]}; install torch-fidelity to compute FID."


def markdown_table(rows: list[Row]) -> str:
    header = ["metric", "value", "95% interval", "bar", "verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row.cells()) + " |" for row in rows])


def write_report(ev: Any, out: Path, command: str, seconds: float) -> None:
    """docs/evaluation/README.md (the table), results.json (rows, intervals and per-sample values) and the grids."""
    out.mkdir(parents=True, exist_ok=True)
    latency = {task: float(np.median(v)) for task, v in ev.timings.items()}
    table = "\n".join(
        [
            markdown_table(ev.rows),
            "",
            "Intervals: 95% bootstrap over the samples (1,000 resamples; 200 for the Fréchet distances, both sets "
            "resampled). A bar against a baseline is judged on the interval of the paired difference. Speed is judged "
            "on the median alone: latencies on a shared machine are not samples of one distribution.",
            "",
            "Median latency per image through the engine (CPU, default settings; "
            f"{torch.get_num_threads()} torch threads, load average {os.getloadavg()[0]:.1f} at the end): "
            + ", ".join(f"{t} {v:.2f} s" for t, v in latency.items())
            + " (upscale: 32x32 inputs, except 128->512).",
            "",
            inception_note(),
        ]
    )
    print(table)
    family = json.loads((ev.family / "family.json").read_text())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (out / "README.md").write_text(
        f"# Built-in family: evaluation\n\n{stamp}, {ev.n} samples per task, evaluation took {seconds:.0f} s. "
        f"Regenerate with `{command}`.\n\n" + table + "\n\n"
        "Sample grids: " + ", ".join(f"[{k}]({k}.png)" for k in ev.grids) + "\n\n"
        "Training records (from assets/builtin/family.json):\n\n```json\n"
        + json.dumps(family.get("training", {}), indent=1)[:4000]
        + "\n```\n"
    )
    results = {
        "date": stamp,
        "command": command,
        "n": ev.n,
        "seed": ev.seed,
        "rows": [asdict(r) for r in ev.rows],
        "samples": ev.samples,
        "latency_s": latency,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    for name, tiles in ev.grids.items():
        if tiles:
            Image.fromarray(np.concatenate(tiles, 1)).save(out / f"{name}.png")
