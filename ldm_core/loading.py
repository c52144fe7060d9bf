"""Loading weights from a hub id, a local diffusers folder or a single .safetensors file, with errors a user can act on.

Every failure (offline, missing files, corrupt weights, wrong layout) becomes ModelNotAvailableError naming what is
missing and how to get it; the traceback goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from huggingface_hub import try_to_load_from_cache

from .errors import ModelNotAvailableError
from .single_file import single_file_options

logger = logging.getLogger(__name__)
T = TypeVar("T")
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
HUB_HINT = (
    "run once with a hub connection (without --offline) so it is downloaded, or point this task at a local "
    "diffusers folder or .safetensors file (EngineConfig.sources), or use the built-in preset (--preset builtin)"
)
LOCAL_HINT = (
    "check the path; the built-in family folder is chosen with --model-dir (default assets/builtin) "
    "and written by `python -m ldm_train.export`"
)


def is_local(source: str) -> bool:
    """Local when it exists, or when it looks like a path (a hub id is `owner/name` with no other slashes)."""
    path = Path(source).expanduser()
    looks_like_path = source.startswith((".", "/", "~")) or source.count("/") > 1 or "\\" in source
    return path.exists() or looks_like_path or source.endswith(SINGLE_FILE_SUFFIXES)


def is_single_file(source: str) -> bool:
    return source.endswith(SINGLE_FILE_SUFFIXES)


def model_name(source: str) -> str:
    """`Model:` in infotext: a single file's stem, a local folder's name, a hub id's last part."""
    if is_single_file(source):
        return Path(source).stem
    return Path(source).name if is_local(source) else source.split("/")[-1]


def hint_for(source: str) -> str:
    return LOCAL_HINT if is_local(source) else HUB_HINT


def missing_files(source: str, required: Sequence[str], offline: bool, cache_dir: Path | str | None) -> str | None:
    """A cheap check (no weights read): the reason `source` can't be loaded, or None when it looks loadable.

    `required` lists files relative to a folder source (e.g. "unet_semantic/config.json").
    """
    if is_local(source):
        path = Path(source).expanduser()
        if not path.exists():
            return f"{source} does not exist; {LOCAL_HINT}"
        if path.is_file():
            return None
        absent = [name for name in required if not (path / name).exists()]
        if absent:
            return f"{source} has no {', '.join(absent)}; {LOCAL_HINT}"
        return None
    if not offline:
        return None  # only a download attempt can tell
    for name in required:
        cached = try_to_load_from_cache(source, name, cache_dir=cache_dir)
        if not isinstance(cached, str):
            return f"{source} is not downloaded (offline mode); {HUB_HINT}"
    return None


class Loader:
    """from_pretrained / from_single_file with the engine's dtype, offline flag and cache folder."""

    def __init__(self, dtype: torch.dtype, offline: bool, cache_dir: Path | str | None):
        self.dtype, self.offline, self.cache_dir = dtype, offline, cache_dir

    def _options(self, source: str) -> dict[str, Any]:
        """A local folder never touches the hub; a single file may fetch its architecture config unless offline."""
        local_folder = is_local(source) and not is_single_file(source)
        options: dict[str, Any] = {"local_files_only": self.offline or local_folder}
        if self.cache_dir is not None:
            options["cache_dir"] = str(self.cache_dir)
        return options

    def pretrained(
        self, cls: Any, source: str, what: str, subfolder: str | None = None, *, weights: bool = True, **kwargs: Any
    ) -> Any:
        """cls.from_pretrained(source[/subfolder]); `weights=False` for tokenizers and schedulers (no dtype)."""
        options = self._options(source) | kwargs
        if weights:
            options["dtype"] = self.dtype
        location = source if subfolder is None else f"{source} ({subfolder}/)"
        if is_local(source):
            root = Path(source).expanduser()
            folder = root / subfolder if subfolder else root
            if not folder.is_dir():
                raise ModelNotAvailableError(f"{what} is not available: {folder} does not exist; {LOCAL_HINT}.")
            source, subfolder = str(folder), None
        if subfolder is not None:
            options["subfolder"] = subfolder
        return self._guard(what, location, lambda: cls.from_pretrained(source, **options))

    def single_file(self, cls: Any, path: str, what: str, **kwargs: Any) -> Any:
        """cls.from_single_file(path) offline: the file is classified first (a wrong kind is a named error), and
        the shipped architecture configs and CLIP tokenizer stand in for the hub's (see single_file)."""
        file = str(Path(path).expanduser())
        if not Path(file).is_file():
            raise ModelNotAvailableError(f"{what} is not available: {path} does not exist; {LOCAL_HINT}.")
        offline = single_file_options(cls, file, what, kwargs)
        options = self._options(path) | {"dtype": self.dtype} | offline | kwargs
        if offline:
            options["local_files_only"] = True  # everything it needs is local: never reach for the hub
        return self._guard(what, path, lambda: cls.from_single_file(file, **options))

    def _guard(self, what: str, location: str, load: Callable[[], T]) -> T:
        try:
            return load()
        except ModelNotAvailableError:
            raise
        except Exception as error:  # the loaders raise OSError, ValueError, SafetensorError, RuntimeError, KeyError...
            logger.warning("could not load %s from %s", what, location, exc_info=True)
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ModelNotAvailableError(
                f"{what} is not available: loading {location} failed ({reason[:200]}); {hint_for(location)}."
            ) from error
