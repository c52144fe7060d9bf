"""The history's view of the outputs folder: one user's saved PNGs, newest first, and deleting one of them."""

from __future__ import annotations

import logging
from pathlib import Path

from ldm_core.outputs import USERS_FOLDER, SavedOutput, list_outputs, user_dir

logger = logging.getLogger(__name__)

__all__ = ["SavedOutput", "delete_output", "list_outputs"]


def delete_output(outputs_dir: Path, user: str | None, path: Path) -> None:
    """Delete one saved PNG of `user`; anything outside that user's folder is refused."""
    root = user_dir(outputs_dir, user).resolve()
    target = Path(path).resolve()
    if target.suffix.lower() != ".png" or not target.is_relative_to(root):
        raise PermissionError(f"{path} is not one of your saved results")
    if user is None and target.relative_to(root).parts[:1] == (USERS_FOLDER,):
        raise PermissionError(f"{path} belongs to a logged-in user")
    target.unlink(missing_ok=True)
    logger.info("deleted %s", target)
