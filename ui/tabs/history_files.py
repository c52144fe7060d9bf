"""The history's view of the outputs folder: one user's saved PNGs, newest first, and deleting one of them."""

from __future__ import annotations

import logging
from pathlib import Path

try:
    from ldm_core.outputs import SavedOutput, list_outputs, user_dir
except ImportError:  # TEMPORARY until the per-user outputs API lands: the shared layout only
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class SavedOutput:  # type: ignore[no-redef]
        path: Path
        task: str
        date: str

    def user_dir(outputs_dir: Path, user: str | None) -> Path:  # type: ignore[misc]
        return Path(outputs_dir)

    def list_outputs(outputs_dir: Path, user: str | None, limit: int | None = None) -> list:  # type: ignore[misc]
        found = [
            SavedOutput(path, path.parent.parent.name, path.parent.name)
            for path in Path(outputs_dir).glob("*/*/*.png")
            if not path.name.startswith(".")
        ]
        found.sort(key=lambda item: item.path.stat().st_mtime, reverse=True)
        return found[:limit]


logger = logging.getLogger(__name__)

__all__ = ["SavedOutput", "delete_output", "list_outputs"]


def delete_output(outputs_dir: Path, user: str | None, path: Path) -> None:
    """Delete one saved PNG of `user`; anything outside that user's folder is refused."""
    root = user_dir(outputs_dir, user).resolve()
    target = Path(path).resolve()
    if target.suffix.lower() != ".png" or not target.is_relative_to(root):
        raise PermissionError(f"{path} is not one of your saved results")
    if user is None and target.relative_to(root).parts[:1] == ("users",):
        raise PermissionError(f"{path} belongs to a logged-in user")
    target.unlink(missing_ok=True)
    logger.info("deleted %s", target)
