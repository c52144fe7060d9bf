"""Samplers by name: each request builds its own scheduler from the pipeline's stored config (no shared state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, SchedulerMixin


@dataclass(frozen=True)
class Sampler:
    label: str  # the A1111 name written into infotext
    scheduler_class: type[SchedulerMixin]
    options: tuple[tuple[str, Any], ...] = ()


SAMPLERS: dict[str, Sampler] = {
    "ddim": Sampler("DDIM", DDIMScheduler),  # Song et al. 2021
    "dpm++2m": Sampler(
        "DPM++ 2M", DPMSolverMultistepScheduler, (("algorithm_type", "dpmsolver++"), ("solver_order", 2))
    ),  # Lu et al. 2022, Alg. 2
    "euler_a": Sampler("Euler a", EulerAncestralDiscreteScheduler),  # Karras et al. 2022, ancestral Euler
}
SAMPLER_BY_LABEL = {sampler.label: name for name, sampler in SAMPLERS.items()}


def make_scheduler(name: str, base_config: Any) -> SchedulerMixin:
    """A fresh `name` scheduler carrying the model's noise schedule (betas, prediction type) from base_config."""
    sampler = SAMPLERS[name]
    return sampler.scheduler_class.from_config(base_config, **dict(sampler.options))
