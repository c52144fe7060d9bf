"""Saving results, and finding a user's saved results again.

Layout without logins: `<outputs>/<task>/<YYYY-MM-DD>/<NNNNN>-<seed>.png`. With logins, each user has a folder and
names carry a random part, so no one finds another user's file by counting or by trying seeds:
`<outputs>/users/<user folder>/<task>/<YYYY-MM-DD>/<NNNNN>-<seed>-<random>.png`.

Public API for front ends (a history view, a file route):
- `user_dir(outputs_dir, user)`: the folder holding every output of `user` (None: the shared, login-free layout);
- `list_outputs(outputs_dir, user, limit)`: that user's PNGs, newest first (`SavedOutput`: path, task, date);
- `owner_of(outputs_dir, path)`: whose folder a path is in (None for the shared layout or outside the outputs).
Writes are atomic and never overwrite: readers never see a partial PNG.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin

from .infotext import PNG_KEY

logger = logging.getLogger(__name__)
USERS_FOLDER = "users"
_NUMBERED = re.compile(r"^(\d{5,})-")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
RANDOM_BYTES = 12  # 96 bits in each private name: far past guessing


@dataclass(frozen=True)
class SavedOutput:
    path: Path
    task: str
    date: str  # YYYY-MM-DD folder it was saved in


def user_folder_name(user: str) -> str:
    """A user's folder: a readable slug plus a hash of the exact name (distinct users never share a folder)."""
    slug = _UNSAFE.sub("_", user).strip("._")[:40] or "user"
    return f"{slug}-{hashlib.sha256(user.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def user_dir(outputs_dir: Path, user: str | None) -> Path:
    """Where `user`'s outputs go (`<outputs>` itself when there are no logins)."""
    root = Path(outputs_dir)
    return root if user is None else root / USERS_FOLDER / user_folder_name(user)


def output_folder(outputs_dir: Path, task: str, today: dt.date | None = None, user: str | None = None) -> Path:
    return user_dir(outputs_dir, user) / task / (today or dt.date.today()).isoformat()


def list_outputs(outputs_dir: Path, user: str | None, limit: int | None = None) -> list[SavedOutput]:
    """`user`'s saved PNGs, newest first (by modification time); the shared layout when `user` is None."""
    root = user_dir(outputs_dir, user)
    found = []
    if root.is_dir():
        for task_dir in root.iterdir():
            if not task_dir.is_dir() or (user is None and task_dir.name == USERS_FOLDER):
                continue
            for date_dir in task_dir.iterdir():
                if date_dir.is_dir():
                    found += [
                        SavedOutput(path, task_dir.name, date_dir.name)
                        for path in date_dir.glob("*.png")
                        if not path.name.startswith(".")
                    ]
    found.sort(key=lambda item: item.path.stat().st_mtime, reverse=True)
    return found[:limit] if limit is not None else found


def owner_of(outputs_dir: Path, path: Path) -> str | None:
    """The user folder name (see `user_folder_name`) a path lies in; None for shared outputs or paths elsewhere."""
    try:
        relative = Path(path).resolve().relative_to(Path(outputs_dir).resolve())
    except ValueError:
        return None
    parts = relative.parts
    return parts[1] if len(parts) > 2 and parts[0] == USERS_FOLDER else None


def save_images(
    outputs_dir: Path,
    task: str,
    images: list[Image.Image],
    seeds: list[int],
    infotexts: list[str],
    user: str | None = None,
) -> tuple[list[Path], list[str]]:
    """Save a result's images in `user`'s task/date folder: (paths, warnings); stops at the first failure.

    With a `user`, names carry a random part (see `save_png(private=True)`).
    """
    folder = output_folder(outputs_dir, task, user=user)
    saved: list[Path] = []
    for image, seed, infotext in zip(images, seeds, infotexts, strict=True):
        try:
            saved.append(save_png(image, folder, seed, infotext, private=user is not None))
        except OSError as error:
            logger.warning("could not save to %s", folder, exc_info=True)
            return saved, [f"could not save the image to {folder} ({error}); it is returned but not saved"]
    return saved, []


def save_png(image: Image.Image, folder: Path, seed: int, infotext: str, private: bool = False) -> Path:
    """Write to a temp file in `folder`, then link it to the next free numbered name (link fails rather than overwrite).

    `private`: the name ends in a random part (`00001-42-<random>.png`), so it cannot be guessed.
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
        suffix = f"-{secrets.token_urlsafe(RANDOM_BYTES)}" if private else ""
        return _claim_name(temp, folder, seed, suffix)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _next_number(folder: Path) -> int:
    numbers = [int(m.group(1)) for name in os.listdir(folder) if (m := _NUMBERED.match(name))]
    return max(numbers, default=0) + 1


def _claim_name(temp: Path, folder: Path, seed: int, suffix: str = "") -> Path:
    number = _next_number(folder)
    while True:
        target = folder / f"{number:05d}-{seed}{suffix}.png"
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
