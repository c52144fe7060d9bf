"""The engine: owns the models, device memory, the lock, progress and cancellation. The UI only sends requests.

`Engine(config)` loads nothing; each task's pipeline loads on first use (or `engine.load(task)`), once, under the
engine's lock, which also serialises runs so two requests never race on one model.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .assembly import Assembler, LoadedTask
from .budget import Work, WorkBudget
from .checkpoints import HashCache, ModelChoice, find_choice, list_choices, sources_for
from .config import EngineConfig
from .errors import CancelledError, InvalidRequestError, ModelNotAvailableError, OutOfMemoryError, StudioError
from .infotext import format_infotext
from .limits import Limits
from .loading import Loader, is_single_file
from .memory import MemoryManager, resolve_runtime
from .outputs import save_images
from .presets import resolve_preset
from .progress import ProgressCallback
from .registry import TASKS, task_for
from .requests import CascadeOptions, GenerationRequest, GenerationResult
from .schedulers import SAMPLERS, make_scheduler
from .tasks import cascade, semantic
from .tasks.common import RunContext, TaskOutput, fit_size
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
        self._loader = Loader(self.runtime.dtype, self.config.offline, self.config.cache_dir)
        self._assembler = Assembler(self.preset, self._loader)
        self._loaded: dict[str, LoadedTask] = {}
        self._failures: dict[str, str] = {}
        self._lock = threading.RLock()
        self.budget = WorkBudget(float(self.config.limits.max_request_seconds), str(self.runtime.device))
        self.hashes = HashCache()
        self._model_hashes: dict[str, str] = {}  # task -> A1111 hash of its single-file source
        self.selected_model = self._initial_model_name()

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

    def native_size(self, task: str) -> int | None:
        """The task's native output size in pixels (its loaded model's, else from a cheap file read), or None."""
        if task in self._loaded:
            return self._loaded[task].native_size
        return self._assembler.native_size(task)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.selected_model,
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
                source = self.preset.tasks[task].source
                if is_single_file(source):
                    self._model_hashes[task] = self.hashes.get(source)
            return self._loaded[task]

    @contextmanager
    def inspecting(self, task: str) -> Iterator[LoadedTask]:
        """The task's pipeline held exclusively (the engine's lock) and ready on its device, for the model explorer:
        hooks or attention processors installed inside see only the runs made inside (`run` re-enters the lock)."""
        with self._lock:
            loaded = self.load(task)
            self.memory.activate(loaded.pipe)
            with torch.inference_mode(), self.runtime.autocast_context():
                yield loaded

    # --- the checkpoint picker -----------------------------------------------------------------------------------

    def model_choices(self) -> list[ModelChoice]:
        """What the picker offers: builtin, every .safetensors in the models folder, the other presets."""
        return list_choices(self.config.models_dir)

    def select_model(self, name: str) -> dict[str, Any]:
        """Switch to the picker's choice `name`, under the lock (waits for a running job): the file is checked
        first (a wrong kind changes nothing), then every loaded pipeline is freed and the new model's first task
        loads, so a failure shows at once. Returns `describe()`."""
        choice = find_choice(name, self.config.models_dir)
        with self._lock:
            same_preset = self.preset.name == choice.preset
            sources = sources_for(choice, self.config.sources if same_preset else None)
            try:
                preset = resolve_preset(choice.preset, self.config.model_root, sources)
            except ValueError as error:
                raise InvalidRequestError("model", name, str(error)) from error
            self._loaded.clear()
            self._failures.clear()
            self._model_hashes.clear()
            self._assembler = Assembler(preset, self._loader)  # drops the old components with the old assembler
            self.memory.free()
            self.budget = WorkBudget(self.budget.max_seconds, self.budget.device)  # costs measured on the old model
            self.config = replace(self.config, preset=choice.preset, sources=sources)
            self.preset, self.selected_model = preset, choice.name
            logger.info("model: %s (preset %s, sources %s)", choice.name, preset.name, sources or "the preset's")
            first = next(task for task in TASKS if task in preset.tasks)
            self.load(first)
            return self.describe()

    def _load_x4(self) -> LoadedTask:
        """The ×4 model a cascade runs; when it cannot load, the message says the request asked for it."""
        try:
            return self.load("upscale")
        except ModelNotAvailableError as error:
            raise ModelNotAvailableError(
                f"upscale_x4: this model's ×4 pass cannot run (ask without it: upscale_x4=False). {error}"
            ) from error

    def _initial_model_name(self) -> str:
        """The picker's name for what the engine was started with: a models-folder file when text-to-image is one."""
        source = (self.config.sources or {}).get("text2img", "")
        if is_single_file(source):
            for choice in list_choices(self.config.models_dir):
                if choice.path is not None and choice.path.resolve() == Path(source).expanduser().resolve():
                    return choice.name
            return Path(source).name
        return self.preset.name

    # --- running -------------------------------------------------------------------------------------------------

    def run(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        owner: str | None = None,
    ) -> GenerationResult:
        """Validate, load (first time), generate, save. Raises a StudioError subclass for anything a user can fix.

        Seeds: seed=-1 draws one at random; image i of a batch uses seed + i (the same image it would be alone), and
        `result.seed` is the first. Progress events arrive once per denoising step (with a latent preview) and once at
        the end; setting `cancel` stops the run before its next step with CancelledError, and nothing is saved (a run
        cancelled while it waited for the engine never starts). `owner` (a login name) saves into that user's folder
        under unguessable names (see `outputs.user_dir`).
        """
        inputs = check_request(request, self.config.limits)  # also refuses a request of no registered task
        spec = task_for(request)
        assert spec is not None
        task, recipe = spec.name, spec.run
        seed = request.seed if request.seed != -1 else secrets.randbelow(MAX_SEED - request.batch_size + 2)
        seeds = batch_seeds(seed, request.batch_size)
        with self._lock:
            if cancel is not None and cancel.is_set():  # cancelled while waiting for the lock: costs nothing
                raise CancelledError("Cancelled by the user before it started; nothing was run or saved.")
            started = time.perf_counter()
            try:
                loaded = self.load(task)
                x4 = isinstance(request, CascadeOptions) and request.upscale_x4
                if x4:
                    self._load_x4()  # before the clock: the x4 pass's time is its steps, not a first load
                work = request_work(task, request, inputs, loaded, self.config.limits)
                x4_work = cascade.work(request, work) if x4 else None  # type: ignore[arg-type]
                self.budget.check(work, then=x4_work)  # refused before any step, saying what would fit
                loaded_at = time.perf_counter()
                context = RunContext(loaded, seeds, progress, cancel, self.config.limits)
                output = self._generate(loaded, recipe, request, inputs, context)
                first_at = time.perf_counter()
                if x4:
                    output = cascade.run(request, output, context, self.load, self._generate)
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
            self.budget.record(work, first_at - loaded_at)  # the estimate follows this device, pass by pass
            if x4_work is not None:
                self.budget.record(x4_work, generated_at - first_at)
        infotexts = [self._infotext(task, loaded, request, output, image_seed) for image_seed in seeds]
        warnings = inputs.warnings + output.warnings
        if cancel is not None and cancel.is_set():  # cancelled during decoding: the user no longer wants it
            raise CancelledError("Cancelled by the user; nothing was saved.")
        saved: list = []
        if self.config.save_outputs:
            saved, save_warnings = save_images(
                self.config.outputs_dir, task, output.images, seeds, infotexts, user=owner
            )
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
            "Model hash": self._model_hashes.get(task),
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


def request_work(
    task: str, request: GenerationRequest, inputs: CheckedInputs, loaded: LoadedTask, limits: Limits
) -> Work:
    """The denoiser's work for a checked request: megapixels per image at the size the model works at, steps run
    (the x4 pass of a cascade is `cascade.work`)."""
    steps = float(request.num_inference_steps)
    native, multiple = loaded.native_size, loaded.size_multiple
    if task == "text2img":
        native *= getattr(request, "size_scale", 1)
        size = (getattr(request, "width", None) or native, getattr(request, "height", None) or native)
    elif task == "semantic" and inputs.label_map is not None:
        height, width = inputs.label_map.shape
        size = semantic.working_size(request, (width, height), native, multiple, limits)
    elif inputs.image is not None:
        size = inputs.image.size
        steps *= max(float(getattr(request, "strength", 1.0)), 1.0 / max(steps, 1.0))
        if task == "upscale":  # the x4 output is what the denoiser and decoder work on; messages speak of the input
            return Work(task, size[0] * size[1] * 16 / 1_000_000, steps, request.batch_size, size, "input")
        if task == "img2img":
            size = fit_size(*size, native, multiple)
    else:
        size = (native, native)
    return Work(task, size[0] * size[1] / 1_000_000, steps, request.batch_size, size)
