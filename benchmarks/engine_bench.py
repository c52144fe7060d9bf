"""In-process CPU benchmarks through `ldm_core.Engine`: latency per task, latency against steps, engine overhead."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .common import TASKS, Stopwatch, Timing, describe_request, task_request, time_calls

logger = logging.getLogger(__name__)
SWEEP_STEPS = (5, 10, 25, 50)


def task_latency(engine: Any, tasks: tuple[str, ...] = TASKS, repeats: int = 5) -> dict[str, Any]:
    """Median seconds of `engine.run` per task at default settings, after one warm-up run (which also loads)."""
    results: dict[str, Any] = {}
    for task in tasks:
        request = task_request(task)
        timing, result = time_calls(lambda request=request: engine.run(request), repeats)
        image = result.images[0]
        results[task] = timing.as_dict() | describe_request(request) | {"output_size": f"{image.width}x{image.height}"}
        logger.info("%s: median %.3f s over %d runs", task, timing.median, repeats)
    return results


def steps_sweep(
    engine: Any, task: str = "text2img", steps: tuple[int, ...] = SWEEP_STEPS, repeats: int = 3
) -> dict[str, Any]:
    """Latency against num_inference_steps; the slope is the cost of one step, the intercept the fixed cost.

    No warm-up: the engine is already warm from `task_latency` (loaded, first call done).
    """
    points = []
    for count in steps:
        request = task_request(task, num_inference_steps=count)
        timing, _ = time_calls(lambda request=request: engine.run(request), repeats, warmup=0)
        points.append({"steps": count} | timing.as_dict())
    slope, intercept = np.polyfit([p["steps"] for p in points], [p["median_s"] for p in points], 1)
    return {
        "task": task,
        "points": points,
        "seconds_per_step": round(float(slope), 5),
        "fixed_seconds": round(float(intercept), 4),
    }


def _bare_text2img(engine: Any, request: Any) -> Callable[[], list[Any]]:
    """The engine's loaded text-to-image pipeline object and the call arguments its recipe would pass."""
    loaded = engine.load("text2img")
    loaded.pipe.set_progress_bar_config(disable=True)  # the engine disables it too: compare like with like

    def call() -> list[Any]:
        with engine.runtime.autocast_context():  # the same compute dtype as the engine (bf16 autocast or none)
            return _call()

    def _call() -> list[Any]:
        return loaded.pipe(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            num_images_per_prompt=request.batch_size,
            height=request.height or loaded.native_size,
            width=request.width or loaded.native_size,
            num_inference_steps=request.num_inference_steps,
            guidance_scale=request.guidance_scale,
            generator=[torch.Generator(device="cpu").manual_seed(request.seed)],
        ).images

    return call


def engine_overhead(engine: Any, repeats: int = 5) -> dict[str, Any]:
    """Same text-to-image request through `engine.run` and through a bare call of the engine's own pipeline object.

    Runs are interleaved (and the order alternates) so load changes on a busy machine hit both sides alike.
    """
    request = task_request("text2img")
    bare_call = _bare_text2img(engine, request)
    engine.run(request), bare_call()  # warm-up both
    timings = {"engine": Timing([], []), "bare": Timing([], [])}
    same_image = True
    for index in range(repeats):
        order = ("engine", "bare") if index % 2 == 0 else ("bare", "engine")
        images = {}
        for side in order:
            with Stopwatch() as watch:
                images[side] = engine.run(request).images if side == "engine" else bare_call()
            timings[side].runs.append(watch.wall)
            timings[side].cpu_runs.append(watch.cpu)
        same_image &= np.array_equal(np.asarray(images["engine"][0]), np.asarray(images["bare"][0]))
    through_engine, bare = timings["engine"], timings["bare"]
    # Per-pair ratios cancel slow drifts in machine load better than the ratio of medians; CPU seconds (one torch
    # thread) hardly depend on the load at all. Report all three.
    pair_ratios = [e / b for e, b in zip(through_engine.runs, bare.runs, strict=True)]
    return {
        "task": "text2img",
        "request": describe_request(request),
        "engine": through_engine.as_dict(),
        "bare_diffusers": bare.as_dict(),
        "ratio": round(through_engine.median / bare.median, 4),
        "median_pair_ratio": round(statistics.median(pair_ratios), 4),
        "cpu_ratio": round(statistics.median(through_engine.cpu_runs) / statistics.median(bare.cpu_runs), 4),
        "goal": 1.03,
        "same_image": bool(same_image),
        "bare_call": "engine.load('text2img').pipe(prompt, negative_prompt, height, width, steps, guidance, generator)",
    }
