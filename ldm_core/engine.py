"""The engine: owns the models, device memory, the lock, progress and cancellation. The UI only sends requests.

`Engine(config)` loads nothing; each task's pipeline loads on first use (or `engine.load(task)`), once, under the
engine's lock, which also serialises runs so two requests never race on one model.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any

import torch

from .assembly import Assembler, LoadedTask
from .config import EngineConfig
from .errors import InvalidRequestError, ModelNotAvailableError, OutOfMemoryError, StudioError
from .infotext import format_infotext
from .loading import Loader
from .memory import MemoryManager, resolve_runtime
from .outputs import save_images
from .presets import resolve_preset
from .progress import ProgressCallback
from .registry import TASKS, task_for
from .requests import GenerationRequest, GenerationResult
from .schedulers import SAMPLERS, make_scheduler
from .tasks.common import RunContext, TaskOutput
from .validation import MAX_SEED, CheckedInputs, apply_decoder_limit, batch_seeds, check_request

logger = logging.getLogger(__name__)


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA raises torch.cuda.OutOfMemoryError; MPS and some CUDA paths a RuntimeError saying "out of memory"."""
    return isinstance(error, torch.cuda.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
    )


class Engine:
    def __init__(self, config: EngineConfig | None = None):
        self.config = config or EngineConfig()
        try:
            self.preset = resolve_preset(self.config.preset, self.config.model_root, self.config.sources)
        except ValueError as error:
            raise InvalidRequestError("preset", self.config.preset, str(error)) from error
        self.runtime = resolve_runtime(
            self.config.device,
            self.config.dtype,
            self.config.offload,
            self.config.attention_slicing,
            self.config.vae_tiling,
            self.config.vae_slicing,
        )
        self.memory = MemoryManager(self.runtime)
        apply_decoder_limit(self.config.limits)  # Pillow refuses decompression bombs past the limits' pixel count
        self._assembler = Assembler(self.preset, Loader(self.runtime.dtype, self.config.offline, self.config.cache_dir))
        self._loaded: dict[str, LoadedTask] = {}
        self._failures: dict[str, str] = {}
        self._lock = threading.RLock()

    # --- status --------------------------------------------------------------------------------------------------

    def task_status(self) -> dict[str, str | None]:
        """task -> None when loaded or loadable, else why not (from a cheap file check, or the last load failure)."""
        status: dict[str, str | None] = {}
        for task in TASKS:
            if task in self._loaded:
                status[task] = None
            elif task in self._failures:
                status[task] = self._failures[task]
            else:
                status[task] = self._assembler.status(task)
        return status

    def describe(self) -> dict[str, Any]:
        return {
            "preset": self.preset.name,
            "sources": {task: spec.source for task, spec in self.preset.tasks.items()},
            "loaded": sorted(self._loaded),
            "samplers": list(SAMPLERS),
            **self.runtime.describe(),
        }

    # --- loading -------------------------------------------------------------------------------------------------

    def load(self, task: str) -> LoadedTask:
        """The task's pipeline, loading it on first use; ModelNotAvailableError names what is missing."""
        if task not in TASKS:
            raise InvalidRequestError("task", task, f"must be one of {', '.join(TASKS)}")
        with self._lock:
            if task not in self._loaded:
                try:
                    loaded = self._assembler.build(task)
                    self.memory.place(loaded.pipe)
                except ModelNotAvailableError as error:
                    self._failures[task] = str(error)
                    raise
                self._failures.pop(task, None)
                self._loaded[task] = loaded
            return self._loaded[task]

    # --- running -------------------------------------------------------------------------------------------------

    def run(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        """Validate, load (first time), generate, save. Raises a StudioError subclass for anything a user can fix.

        Seeds: seed=-1 draws one at random; image i of a batch uses seed + i (the same image it would be alone), and
        `result.seed` is the first. Progress events arrive once per denoising step (with a latent preview) and once at
        the end; setting `cancel` stops the run before its next step with CancelledError, and nothing is saved.
        """
        inputs = check_request(request, self.config.limits)  # also refuses a request of no registered task
        spec = task_for(request)
        assert spec is not None
        task, recipe = spec.name, spec.run
        seed = request.seed if request.seed != -1 else secrets.randbelow(MAX_SEED - request.batch_size + 2)
        seeds = batch_seeds(seed, request.batch_size)
        with self._lock:
            started = time.perf_counter()
            try:
                loaded = self.load(task)
                loaded_at = time.perf_counter()
                output = self._generate(loaded, recipe, request, inputs, RunContext(loaded, seeds, progress, cancel))
            except StudioError:
                raise
            except Exception as error:
                if not is_out_of_memory(error):
                    logger.exception("unexpected error during %s", task)
                    raise
                self.memory.free()
                logger.warning("out of memory during %s", task, exc_info=True)
                raise OutOfMemoryError(
                    f"Out of memory on {self.runtime.device} while running {task} at {_size_of(request)} "
                    f"with batch size {request.batch_size}. Memory was freed: try a smaller size or batch, or restart "
                    "with --offload model (or --offload sequential: slowest, least memory)."
                ) from error
            generated_at = time.perf_counter()
        infotexts = [self._infotext(task, loaded, request, output, image_seed) for image_seed in seeds]
        warnings = inputs.warnings + output.warnings
        saved: list = []
        if self.config.save_outputs:
            saved, save_warnings = save_images(self.config.outputs_dir, task, output.images, seeds, infotexts)
            warnings += save_warnings
        timings = {"load": loaded_at - started, "generate": generated_at - loaded_at}
        timings["save"] = time.perf_counter() - generated_at
        return GenerationResult(
            task=task,
            images=output.images,
            seed=seed,
            model=loaded.model_name,
            infotexts=infotexts,
            saved_paths=saved,
            warnings=warnings,
            timings=timings,
        )

    def _generate(
        self, loaded: LoadedTask, recipe: Any, request: GenerationRequest, inputs: CheckedInputs, context: RunContext
    ) -> TaskOutput:
        # A fresh sampler per request, from the model's own schedule; only this pipeline object's attribute changes.
        loaded.pipe.scheduler = make_scheduler(request.scheduler, loaded.scheduler_config)
        self.memory.activate(loaded.pipe)
        loaded.pipe.set_progress_bar_config(disable=True)
        with torch.inference_mode(), self.runtime.autocast_context():
            return recipe(request, inputs, context)

    def _infotext(
        self, task: str, loaded: LoadedTask, request: GenerationRequest, output: TaskOutput, seed: int
    ) -> str:
        params: dict[str, Any] = {
            "Steps": request.num_inference_steps,
            "Sampler": SAMPLERS[request.scheduler].label,
            "CFG scale": request.guidance_scale if output.uses_guidance else None,
            "Seed": seed,
            "Size": f"{output.size[0]}x{output.size[1]}",
            "Model": loaded.model_name,
            "Task": task,
            **output.params,
        }
        prompt = getattr(request, "prompt", "")
        return format_infotext(prompt, getattr(request, "negative_prompt", ""), params)


def _size_of(request: GenerationRequest) -> str:
    width, height = getattr(request, "width", None), getattr(request, "height", None)
    if width and height:
        return f"{width}x{height}"
    image = getattr(request, "image", None) or getattr(request, "color_map", None)
    return f"{image.width}x{image.height}" if image is not None else "the model's native size"
