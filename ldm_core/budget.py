"""A work budget per request: the seconds it would hold the device, estimated before it runs, within a cap.

Limits on steps, batch and pixels taken one by one still admitted requests of hours (2048x2048 x batch 8 x 150
steps). The budget counts their product, the way the device spends time:

    seconds = steps_run x batch x cost(task) x P x (1 + P / P_attention)  +  batch x decode(task) x P

with P the megapixels the denoiser works at (the output for text-to-image and inpainting, the output of the x4
upscaler, the model's size for semantic maps), `P_attention` the size at which self-attention's quadratic cost
doubles a step (none for the tiled upscaler), and `decode` the VAE's cost per megapixel.

The per-task costs start from the benchmarks (`PRIORS`, CPU; divided by `DEVICE_SPEEDUP` on an accelerator) and are
then measured on this device: every finished run updates its task's cost (`record`), so the estimate follows the
machine the studio runs on, its load included. A request over `max_seconds` is refused up front with
`WorkBudgetError`, which says what would fit (fewer steps, a smaller size, a smaller batch).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace

from .errors import StudioError

MEGAPIXEL = 1_000_000


@dataclass(frozen=True)
class TaskCost:
    step: float  # seconds per megapixel per step per image, before the attention factor
    decode: float  # seconds per output megapixel per image (VAE, back-projection), paid once
    attention_mp: float | None  # megapixels at which attention doubles a step's cost; None: no quadratic term


# From BENCHMARKS.md (built-in family, 2 CPU cores, quiet machine) and the sizes measured by benchmarks/budget_bench.py.
PRIORS: dict[str, TaskCost] = {
    "text2img": TaskCost(step=2.0, decode=6.0, attention_mp=0.25),
    "inpaint": TaskCost(step=2.0, decode=9.0, attention_mp=0.25),
    "semantic": TaskCost(step=1.5, decode=6.0, attention_mp=0.25),
    "upscale": TaskCost(step=0.4, decode=6.0, attention_mp=None),
}
DEVICE_SPEEDUP = {"cpu": 1.0, "mps": 8.0, "cuda": 40.0}
LEARNING_RATE = 0.5  # weight of the newest measurement in a task's measured cost


class WorkBudgetError(StudioError):
    """The request would hold the device longer than one request may; the message says what fits."""


@dataclass(frozen=True)
class Work:
    """What one request asks of the denoiser: the numbers the estimate multiplies."""

    task: str
    megapixels: float  # per image, at the size the denoiser works
    steps: float  # steps actually run (x strength where only part of the schedule runs)
    batch: int
    size: tuple[int, int]  # for messages: the size a user chose (scaled with `megapixels` in the advice)
    size_of: str = "size"  # what `size` is ("input" for the x4 upscaler)


@dataclass
class WorkBudget:
    max_seconds: float = 60.0
    device: str = "cpu"
    _scale: dict[str, float] = field(default_factory=dict)  # measured cost / prior cost, per task
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _cost(self, task: str) -> TaskCost:
        prior = PRIORS.get(task, PRIORS["text2img"])
        scale = self._scale.get(task, 1.0 / DEVICE_SPEEDUP.get(self.device.split(":")[0], 1.0))
        return TaskCost(prior.step * scale, prior.decode * scale, prior.attention_mp)

    @staticmethod
    def _step_factor(cost: TaskCost, megapixels: float) -> float:
        quadratic = 1.0 + megapixels / cost.attention_mp if cost.attention_mp else 1.0
        return megapixels * quadratic

    def seconds(self, work: Work) -> float:
        cost = self._cost(work.task)
        per_image = work.steps * cost.step * self._step_factor(cost, work.megapixels) + cost.decode * work.megapixels
        return per_image * work.batch

    def check(self, work: Work, then: Work | None = None) -> float:
        """The estimated seconds of `work` and of the pass `then` after it in the same request (the x4 cascade);
        WorkBudgetError (saying what fits) when over `max_seconds`."""
        first = self.seconds(work)
        estimate = first + (self.seconds(then) if then is not None else 0.0)
        if estimate <= self.max_seconds:
            return estimate
        described = f"This {work.task} request ({work.size_of} {work.size[0]}x{work.size[1]}, {work.steps:g} steps, "
        described += f"batch {work.batch}{' and an x4 pass' if then is not None else ''})"
        if then is None:
            fits = self.what_fits(work)
        elif first <= self.max_seconds:
            fits = "the same without the x4 upscale"
            steps = self._steps_within(then, self.max_seconds - first)
            if 1 <= steps < then.steps:
                fits += f"; or at most {steps} x4 steps"
        else:
            fits = f"{self.what_fits(work)}, without the x4 upscale"
        raise WorkBudgetError(
            f"{described} would take about {estimate:.0f} s on {self.device}; one request may take at most "
            f"{self.max_seconds:.0f} s. What fits: {fits}."
        )

    def _steps_within(self, work: Work, seconds: float) -> int:
        """The most steps of `work` (its size and batch as they are) that take at most `seconds`."""
        fixed = self.seconds(replace(work, steps=0))
        per_step = self.seconds(replace(work, steps=1)) - fixed
        return math.floor((seconds - fixed) / per_step) if per_step > 0 else 0

    def what_fits(self, work: Work) -> str:
        """Alternatives within the budget: fewer steps, a smaller batch, a smaller size (as plain advice)."""
        options = []
        cost = self._cost(work.task)
        step_seconds = cost.step * self._step_factor(cost, work.megapixels) * work.batch
        decode_seconds = cost.decode * work.megapixels * work.batch
        steps = math.floor((self.max_seconds - decode_seconds) / step_seconds) if step_seconds > 0 else 0
        if 1 <= steps < work.steps:
            options.append(f"at most {steps} steps at this size and batch")
        if work.batch > 1:
            single = self.seconds(Work(work.task, work.megapixels, work.steps, 1, work.size, work.size_of))
            batch = math.floor(self.max_seconds / single) if single > 0 else 0
            if batch >= 1:
                options.append(f"batch {batch} at these settings")
        scale = self._largest_scale(work)
        if scale < 1.0:
            width, height = (max(8, int(side * scale) // 8 * 8) for side in work.size)
            options.append(f"{work.size_of} about {width}x{height} at {work.steps:g} steps and batch {work.batch}")
        return "; or ".join(options) if options else "a smaller size with fewer steps"

    def _largest_scale(self, work: Work) -> float:
        """The side scale (0..1] that brings the request within the budget, by bisection on the estimate."""
        low, high = 0.0, 1.0
        for _ in range(30):
            middle = (low + high) / 2
            trial = Work(work.task, work.megapixels * middle * middle, work.steps, work.batch, work.size, work.size_of)
            low, high = (middle, high) if self.seconds(trial) <= self.max_seconds else (low, middle)
        return low

    def record(self, work: Work, seconds: float) -> None:
        """A finished run's measured seconds: moves the task's cost toward what this device really spends."""
        predicted_at_prior_scale = self.seconds(work) / self._scale_of(work.task)
        if predicted_at_prior_scale <= 0 or seconds <= 0:
            return
        measured = seconds / predicted_at_prior_scale
        with self._lock:
            previous = self._scale_of(work.task)
            self._scale[work.task] = math.exp(
                (1 - LEARNING_RATE) * math.log(previous) + LEARNING_RATE * math.log(measured)
            )

    def _scale_of(self, task: str) -> float:
        return self._scale.get(task, 1.0 / DEVICE_SPEEDUP.get(self.device.split(":")[0], 1.0))
