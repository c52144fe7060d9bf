"""The sampler's walk from noise to image (LDM Sec. 3.2 / DDPM): at every k-th step, the current latent x_t decoded
and the clean latent the model predicts from it, x̂0 = (x_t - sqrt(1 - ᾱ_t) ε̂) / sqrt(ᾱ_t), decoded.

Recorded during an ordinary engine run of any task: a forward hook on the denoiser (the module the engine's step
monitor watches) reads each step's input latent, timestep and guided prediction; a wrapper on the autoencoder's
`decode` keeps what the pipeline decodes at the end. No second denoising loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..errors import InvalidRequestError
from ..registry import task_for
from ..requests import GenerationRequest, GenerationResult
from .latents import Autoencoder, alphas_cumprod, labelled, noise_level, pixels_to_image, side_by_side

ANIMATION_FORMATS = ("gif", "webp")


@dataclass(frozen=True)
class TrajectoryFrame:
    step: int  # 1-based denoising step; total_steps + 1 for the decoded output
    total_steps: int
    timestep: int  # t of the training schedule (0 for the output)
    noise_level: float  # σ_t = sqrt((1 - ᾱ_t) / ᾱ_t)
    current: Image.Image  # x_t decoded
    predicted: Image.Image  # x̂0 decoded

    @property
    def caption(self) -> str:
        if self.step > self.total_steps:
            return f"output (after {self.total_steps} steps)"
        return f"step {self.step}/{self.total_steps}   t = {self.timestep}   sigma = {self.noise_level:.3g}"

    def picture(self) -> Image.Image:
        """x_t | x̂0 side by side under the step's caption."""
        left = labelled(self.current, "current x_t")
        right = labelled(self.predicted, "predicted x0")
        return labelled(side_by_side([left, right]), self.caption)


@dataclass
class Trajectory:
    frames: list[TrajectoryFrame]  # every k-th step, the last step, then the decoded output
    result: GenerationResult
    every: int
    notes: list[str] = field(default_factory=list)

    @property
    def output(self) -> Image.Image:
        """What the pipeline decoded at the end (the last frame): the tab's image before any paste-back."""
        return self.frames[-1].current

    def save_animation(self, path: str | Path, frame_ms: int = 300, hold_ms: int = 1500) -> Path:
        """An animated GIF or WebP (by the suffix) of every frame's picture; the output is held longer."""
        path = Path(path)
        kind = path.suffix.lower().lstrip(".")
        if kind not in ANIMATION_FORMATS:
            raise InvalidRequestError("animation format", kind, f"must be one of {', '.join(ANIMATION_FORMATS)}")
        pictures = [frame.picture() for frame in self.frames]
        durations = [frame_ms] * (len(pictures) - 1) + [hold_ms]
        options: dict[str, Any] = {"save_all": True, "append_images": pictures[1:], "duration": durations, "loop": 0}
        if kind == "webp":
            options["lossless"] = True
        pictures[0].save(path, **options)
        return path


@dataclass
class _Step:
    timestep: int
    latents: torch.Tensor  # x_t of the first image, (C, h, w) on the CPU
    predicted: torch.Tensor  # x̂0 of the first image


class StepRecorder:
    """Hooks on the denoiser and the autoencoder's decode, for runs made on the installing thread only."""

    def __init__(self, denoiser: torch.nn.Module, autoencoder: Autoencoder, loaded: Any, request: GenerationRequest):
        self.denoiser, self.autoencoder = denoiser, autoencoder
        self.channels = loaded.latent_channels
        self.prediction_type = loaded.scheduler_config.get("prediction_type", "epsilon")
        self.alpha_bars = alphas_cumprod(loaded)
        self.batch_size, self.guidance = request.batch_size, request.guidance_scale
        self.steps: list[_Step] = []
        self.decoded: torch.Tensor | None = None  # (3, H, W) in [-1, 1]: the pipeline's first decode
        self.decodes = 0
        self._thread = threading.get_ident()
        self._handle: Any = None

    def __enter__(self) -> StepRecorder:
        self._handle = self.denoiser.register_forward_hook(self._after_step, with_kwargs=True)
        module = self.autoencoder.module
        original = module.decode

        def decode(*args: Any, **kwargs: Any) -> Any:
            output = original(*args, **kwargs)
            if threading.get_ident() == self._thread:
                self.decodes += 1
                if self.decoded is None:
                    pixels = output.sample if hasattr(output, "sample") else output[0]
                    self.decoded = pixels[0].detach().float().clamp(-1, 1).cpu()
            return output

        module.decode = decode  # an instance attribute over the class method, removed on exit
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.remove()
        self.autoencoder.module.__dict__.pop("decode", None)

    def _after_step(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if threading.get_ident() != self._thread or self.decoded is not None:
            return  # another thread, or a later tile / batch image (the first image's walk is kept)
        sample = args[0] if args else kwargs["sample"]
        timestep = args[1] if len(args) > 1 else kwargs["timestep"]
        prediction = output.sample if hasattr(output, "sample") else output[0]
        sample, prediction = sample[:, : self.channels].float(), prediction[:, : self.channels].float()
        if len(sample) == 2 * self.batch_size:  # classifier-free guidance: [unconditional..., conditional...]
            uncond, cond = prediction[0], prediction[self.batch_size]
            guided, latents = uncond + self.guidance * (cond - uncond), sample[self.batch_size]
        else:
            guided, latents = prediction[0], sample[0]
        t = int(round(float(torch.as_tensor(timestep).flatten()[0])))
        alpha_bar = self.alpha_bars[min(max(t, 0), len(self.alpha_bars) - 1)].to(latents.device)
        if self.prediction_type == "v_prediction":
            predicted = alpha_bar.sqrt() * latents - (1 - alpha_bar).sqrt() * guided
        elif self.prediction_type == "sample":
            predicted = guided
        else:
            predicted = (latents - (1 - alpha_bar).sqrt() * guided) / alpha_bar.sqrt()
        self.steps.append(_Step(t, latents.detach().cpu(), predicted.detach().cpu()))


def chosen_steps(total: int, every: int) -> list[int]:
    """0-based indices of steps 1, 1 + k, 1 + 2k, ... and always the last one."""
    chosen = list(range(0, total, every))
    if total and chosen[-1] != total - 1:
        chosen.append(total - 1)
    return chosen


def record_trajectory(
    engine: Any,
    request: GenerationRequest,
    every: int = 1,
    progress: Callable | None = None,
    cancel: threading.Event | None = None,
    owner: str | None = None,
) -> Trajectory:
    """Run `request` on the engine as its tab would (saved for `owner`, a login name, like any run), keeping every
    `every`-th step's x_t and x̂0 (decoded)."""
    spec = task_for(request)
    if spec is None:
        raise InvalidRequestError("request", type(request).__name__, "must be a task request from ldm_core.requests")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InvalidRequestError("every", every, "must be a whole number of steps, at least 1")
    task = spec.name
    notes = []
    with engine.inspecting(task) as loaded:
        autoencoder = Autoencoder.of(loaded)
        alpha_bars = alphas_cumprod(loaded)
        with StepRecorder(loaded.denoiser, autoencoder, loaded, request) as recorder:
            result = engine.run(request, progress=progress, cancel=cancel, owner=owner)
        if recorder.decoded is None or not recorder.steps:
            raise InvalidRequestError("task", task, "its pipeline ran no recordable denoising steps")
        total = len(recorder.steps)
        frames = []
        for index in chosen_steps(total, every):
            step = recorder.steps[index]
            pixels = autoencoder.decode(torch.stack([step.latents, step.predicted]))
            sigma = noise_level(float(alpha_bars[min(step.timestep, len(alpha_bars) - 1)]))
            current, predicted = pixels_to_image(pixels[0]), pixels_to_image(pixels[1])
            frames.append(TrajectoryFrame(index + 1, total, step.timestep, sigma, current, predicted))
    output = pixels_to_image(recorder.decoded)
    frames.append(TrajectoryFrame(total + 1, total, 0, 0.0, output, output))
    if recorder.decodes > 1:
        notes.append(
            f"the pipeline decoded {recorder.decodes} times (batch images or tiles): the first image's first walk "
            "is shown"
        )
    if output.size != result.images[0].size or task in ("inpaint", "upscale"):
        notes.append("the tab's image is this output after its own last stage (paste-back, tiling, back-projection)")
    return Trajectory(frames, result, every, notes)
