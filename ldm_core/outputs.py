"""Saving results: `<outputs>/<task>/<YYYY-MM-DD>/<NNNNN>-<seed>.png`, atomic and never overwriting."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import tempfile
from pathlib import Path

from PIL import Image, PngImagePlugin

from .infotext import PNG_KEY

logger = logging.getLogger(__name__)
_NUMBERED = re.compile(r"^(\d{5,})-")


def output_folder(outputs_dir: Path, task: str, today: dt.date | None = None) -> Path:
    return Path(outputs_dir) / task / (today or dt.date.today()).isoformat()


def save_images(
    outputs_dir: Path, task: str, images: list[Image.Image], seeds: list[int], infotexts: list[str]
) -> tuple[list[Path], list[str]]:
    """Save a result's images under `<outputs_dir>/<task>/<date>/`: (paths, warnings); stops at the first failure."""
    folder = output_folder(outputs_dir, task)
    saved: list[Path] = []
    for image, seed, infotext in zip(images, seeds, infotexts, strict=True):
        try:
            saved.append(save_png(image, folder, seed, infotext))
        except OSError as error:
            logger.warning("could not save to %s", folder, exc_info=True)
            return saved, [f"could not save the image to {folder} ({error}); it is returned but not saved"]
    return saved, []


def save_png(image: Image.Image, folder: Path, seed: int, infotext: str) -> Path:
    """Write to a temp file in `folder`, then link it to the next free numbered name (link fails rather than overwrite).

    Readers never see a partial PNG: the final name appears only once the file is complete.
    """
    folder.mkdir(parents=True, exist_ok=True)
    metadata = PngImagePlugin.PngInfo()
    metadata.add_text(PNG_KEY, infotext)
    handle, temp_name = tempfile.mkstemp(prefix=".partial-", suffix=".png", dir=folder)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            image.save(stream, format="PNG", pnginfo=metadata)
            stream.flush()
            os.fsync(stream.fileno())
        return _claim_name(temp, folder, seed)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _next_number(folder: Path) -> int:
    numbers = [int(m.group(1)) for name in os.listdir(folder) if (m := _NUMBERED.match(name))]
    return max(numbers, default=0) + 1


def _claim_name(temp: Path, folder: Path, seed: int) -> Path:
    number = _next_number(folder)
    while True:
        target = folder / f"{number:05d}-{seed}.png"
        try:
            os.link(temp, target)  # atomic, and refuses an existing name (another writer won the race)
            return target
        except FileExistsError:
            number += 1
        except OSError:  # filesystems without hard links: reserve the name exclusively, then replace it atomically
            try:
                os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                number += 1
                continue
            os.replace(temp, target)
            return target
