"""The studio's own gradio cache folder.

Gradio keeps uploads and shown images in one folder per machine (`<tmp>/gradio`, or `GRADIO_TEMP_DIR`) shared by every
gradio app, each file named by its content. `delete_cache` removes the files an app cached (hourly past their age, all
of them at shutdown), and a file another app cached under the same name is the same file: one app's cleaning deleted
the other's uploads and results. `use_own_cache()` gives this process a fresh folder of its own inside that one.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "latent-diffusion-studio-"
_own: Path | None = None


def use_own_cache() -> Path:
    """Point this process's gradio at a folder of its own (inside `GRADIO_TEMP_DIR` when set), removed at exit.

    Call it before the UI is built: gradio reads the folder when each component is made and at launch, and checks
    uploads against it on every request, so it is one folder for the whole process. Idempotent.
    """
    global _own
    if _own is not None:
        return _own
    base = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    _own = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    os.environ["GRADIO_TEMP_DIR"] = str(_own)
    atexit.register(shutil.rmtree, _own, ignore_errors=True)
    return _own
