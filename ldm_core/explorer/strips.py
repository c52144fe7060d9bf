"""One seed, one prompt, one knob turned: guidance scales (classifier-free guidance, Ho & Salimans 2022; LDM Sec. 4.3
and Fig. 14) and step counts per sampler (the paper's DDIM-steps comparison, Sec. 4.1 / Fig. 7), with the seconds
each image took. Every image is an ordinary engine run of the same request with one field changed."""

from __future__ import annotations

import dataclasses
import math
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..errors import InvalidRequestError
from ..requests import GenerationRequest
from ..schedulers import SAMPLERS
from ..validation import MAX_GUIDANCE, MAX_SEED
from .latents import labelled, side_by_side

DEFAULT_SCALES = (1.0, 3.0, 5.0, 7.0, 9.0)
DEFAULT_STEPS = (5, 10, 20, 50)
MAX_CELLS = 12  # per strip


@dataclass(frozen=True)
class StripCell:
    image: Image.Image
    value: float  # the guidance scale or step count
    seconds: float  # the engine's generate time for this image
    label: str


@dataclass
class Strip:
    title: str  # "guidance scale" or the sampler's name
    cells: list[StripCell]

    def picture(self) -> Image.Image:
        """The strip's images in a row, each under its value and seconds."""
        return labelled(side_by_side([labelled(cell.image, cell.label) for cell in self.cells]), self.title)


@dataclass
class Strips:
    seed: int
    guidance: Strip | None
    steps: list[Strip]  # one per sampler

    def picture(self) -> Image.Image:
        rows = ([self.guidance] if self.guidance else []) + self.steps
        pictures = [strip.picture() for strip in rows]
        canvas = Image.new("RGB", (max(p.width for p in pictures), sum(p.height + 6 for p in pictures)), "white")
        y = 0
        for picture in pictures:
            canvas.paste(picture, (0, y))
            y += picture.height + 6
        return canvas


def _check_values(name: str, values: Sequence[float], low: float, high: float, whole: bool) -> list[float]:
    if not values:
        raise InvalidRequestError(name, list(values), "must list at least one value")
    if len(values) > MAX_CELLS:
        raise InvalidRequestError(name, list(values), f"must list at most {MAX_CELLS} values")
    for value in values:
        if not isinstance(value, int | float) or not math.isfinite(value) or not low <= value <= high:
            raise InvalidRequestError(name, value, f"each must be a number from {low:g} to {high:g}")
        if whole and value != int(value):
            raise InvalidRequestError(name, value, "each must be a whole number")
    return [float(value) for value in values]


def parse_values(name: str, text: str) -> list[float]:
    """ "1, 3, 5" -> [1.0, 3.0, 5.0]; a clear error naming the field for anything else."""
    try:
        return [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError as error:
        raise InvalidRequestError(name, text, "must be numbers separated by commas, e.g. 1, 3, 5") from error


def make_strips(
    engine: Any,
    request: GenerationRequest,
    scales: Sequence[float] | None = DEFAULT_SCALES,
    steps: Sequence[float] | None = DEFAULT_STEPS,
    samplers: Sequence[str] = tuple(SAMPLERS),
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    owner: str | None = None,
) -> Strips:
    """The request at each guidance scale (its own steps and sampler), then at each step count for each sampler (its
    own guidance), all with one seed (the request's, or one drawn once)."""
    limits = engine.config.limits
    scale_values = _check_values("guidance scales", scales, 0.0, MAX_GUIDANCE, False) if scales else []
    step_values = _check_values("step counts", steps, 1, limits.max_steps, True) if steps else []
    unknown = [name for name in samplers if name not in SAMPLERS]
    if unknown or (step_values and not samplers):
        raise InvalidRequestError("samplers", list(samplers), f"must be some of {', '.join(SAMPLERS)}")
    if not scale_values and not step_values:
        raise InvalidRequestError("strips", "none", "ask for guidance scales, step counts, or both")
    seed = request.seed if request.seed != -1 else secrets.randbelow(MAX_SEED + 1)
    base = dataclasses.replace(request, seed=seed, batch_size=1)
    total, done = len(scale_values) + len(step_values) * len(samplers), 0

    def one(changed: GenerationRequest, value: float, label: str) -> StripCell:
        nonlocal done
        result = engine.run(changed, cancel=cancel, owner=owner)
        done += 1
        if progress is not None:
            progress(done, total)
        seconds = result.timings.get("generate", 0.0)
        return StripCell(result.images[0], value, seconds, f"{label}  {seconds:.2f} s")

    guidance = None
    if scale_values:
        cells = [one(dataclasses.replace(base, guidance_scale=g), g, f"cfg {g:g}") for g in scale_values]
        guidance = Strip(f"guidance scale ({SAMPLERS[base.scheduler].label}, {base.num_inference_steps} steps)", cells)
    rows = []
    for name in samplers if step_values else ():
        cells = [
            one(dataclasses.replace(base, scheduler=name, num_inference_steps=int(n)), n, f"{int(n)} steps")
            for n in step_values
        ]
        rows.append(Strip(f"{SAMPLERS[name].label} (guidance {base.guidance_scale:g})", cells))
    return Strips(seed, guidance, rows)
