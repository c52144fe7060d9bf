"""The checkpoint picker's choices: the built-in family, every `.safetensors` in the models folder, and the presets.

A choice is data (`ModelChoice`: which preset, which per-task sources); `Engine.select_model` applies it. A file is
classified before anything is freed (single_file.inspect_checkpoint), so a file of another kind leaves the current
model in place. `Model hash:` is A1111's short sha256, cached per (path, size, mtime) so each file is read once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidRequestError, ModelNotAvailableError
from .presets import PRESETS
from .single_file import inspect_checkpoint, model_hash

logger = logging.getLogger(__name__)

DEFAULT_MODELS_DIR = Path("models")
CHECKPOINT_SUFFIX = ".safetensors"
# file kind -> the sd15 task it serves (a text-to-image file is the base: its VAE and text encoder serve every tab)
FILE_TASKS = {"sd15": "text2img", "sd15_inpaint": "inpaint", "controlnet": "semantic"}


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the picker. `name` is what the dropdown shows and the API takes."""

    name: str
    preset: str
    path: Path | None = None  # a checkpoint file in the models folder

    @property
    def is_file(self) -> bool:
        return self.path is not None


def list_choices(models_dir: Path | str | None) -> list[ModelChoice]:
    """builtin first, then the folder's .safetensors files (sorted by name), then the other presets."""
    choices = [ModelChoice("builtin", "builtin")]
    folder = Path(models_dir if models_dir is not None else DEFAULT_MODELS_DIR).expanduser()
    if folder.is_dir():
        files = sorted(path for path in folder.iterdir() if path.suffix == CHECKPOINT_SUFFIX and path.is_file())
        choices += [ModelChoice(path.name, "sd15", path.absolute()) for path in files]
    choices += [ModelChoice(name, name) for name in PRESETS if name != "builtin"]
    return choices


def find_choice(name: str, models_dir: Path | str | None) -> ModelChoice:
    """The choice called `name` (a preset id or a file name in the models folder); InvalidRequestError otherwise."""
    choices = list_choices(models_dir)
    for choice in choices:
        if choice.name == name:
            return choice
    listed = ", ".join(choice.name for choice in choices)
    raise InvalidRequestError("model", name, f"must be one of: {listed} (files are read from the models folder)")


def sources_for(choice: ModelChoice, current: dict[str, str] | None) -> dict[str, str] | None:
    """The engine sources a choice stands for. A text-to-image file replaces the base (the other sd15 tabs then share
    its VAE and text encoder); an inpainting file or a ControlNet replaces only its own tab, keeping the rest.
    A file of any other kind raises ModelNotAvailableError naming what it is (nothing has been unloaded yet)."""
    if choice.path is None:
        return None
    info = inspect_checkpoint(choice.path)
    task = FILE_TASKS.get(info.kind)
    if task is None:
        raise ModelNotAvailableError(
            f"{choice.name} cannot be selected: it is {info.description}; {info.advice}. "
            "The current model stays loaded."
        )
    kept = dict(current or {}) if task != "text2img" else {}
    return kept | {task: str(choice.path)}


class HashCache:
    """path -> A1111 model hash, recomputed only when the file's size or modification time changes."""

    def __init__(self) -> None:
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def get(self, path: Path | str) -> str:
        stat = Path(path).stat()
        key = (str(Path(path).absolute()), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key not in self._hashes:
                self._hashes[key] = model_hash(path)
            return self._hashes[key]

    def find(self, short_hash: str, models_dir: Path | str | None) -> ModelChoice | None:
        """The models-folder file whose hash is `short_hash` (case-insensitive), or None."""
        wanted = short_hash.strip().lower()
        for choice in list_choices(models_dir):
            if choice.path is not None and self.get(choice.path) == wanted:
                return choice
        return None
