"""Pictures at the size asked for, timed as the app runs them: `python -m benchmarks.sizes [--repeats 3]`.

Semantic map at the map's own size (256x256, convolutional sampling) next to the model's size (128x128), and the
text-to-image x4 cascade (128 -> 512) next to plain text-to-image, in one run so the ratios share the load. Prints a
table with the load average; writes the same as JSON to benchmarks/sizes.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/sizes.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.common import (  # noqa: E402
    DEFAULT_FAMILY,
    REPO_ROOT,
    git_commit,
    hardware_info,
    load_average,
    make_engine,
    task_request,
    time_calls,
    utc_now,
)


def cases() -> dict[str, Any]:
    """name -> request; every request at the tab's default settings and a fixed seed."""
    return {
        "semantic 256 map, model size (128x128)": task_request("semantic", output_size="model"),
        "semantic 256 map, map size (256x256)": task_request("semantic", output_size="map"),
        "text2img 128x128": task_request("text2img"),
        "text2img 128 -> 512 (x4 cascade)": task_request("text2img", upscale_x4=True),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--family", type=Path, default=DEFAULT_FAMILY)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    args = parser.parse_args(argv)
    engine = make_engine(args.family)
    record: dict[str, Any] = {"when": utc_now(), "git": git_commit(), "hardware": hardware_info(), "cases": {}}
    record["load_average_before"] = load_average()
    print(f"load average before: {record['load_average_before']}")
    for name, request in cases().items():
        if args.only not in name:
            continue
        timing, result = time_calls(lambda request=request: engine.run(request), args.repeats)
        size = "x".join(str(side) for side in result.images[0].size)
        record["cases"][name] = timing.as_dict() | {"output": size, "load_average": load_average()}
        cpu = record["cases"][name].get("median_cpu_s", float("nan"))
        print(f"{name:44s} median {timing.median:6.2f} s wall, {cpu:6.2f} s CPU ({size}, load {load_average()[0]})")
    (REPO_ROOT / "benchmarks" / "sizes.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
