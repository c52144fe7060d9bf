"""The status line: "Ready · CPU · 5 tasks" for people, the engine's details (model, dtype, memory mode, notes) on a
click. Markdown with an HTML <details>: the /status endpoint reads as text ("model: **builtin**"), the page shows the
collapsed line."""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from ldm_core.registry import TASKS

logger = logging.getLogger(__name__)

SETUP = (  # describe() key -> its label on the details line; the first two are the ones a user switches, in bold
    ("model", "model"),
    ("preset", "preset"),
    ("device", "device"),
    ("dtype", "weights"),
    ("memory_mode", "memory"),
    ("serving", "engine"),
)
BOLD = ("model", "preset")


def device_label(device: str) -> str:
    """ "cpu" -> "CPU", "cuda:0" -> "GPU", "mps" -> "Apple GPU"; anything else as given."""
    kind = device.split(":")[0].lower()
    return {"cpu": "CPU", "cuda": "GPU", "mps": "Apple GPU"}.get(kind, device)


def plain(text: Any) -> str:
    """`text` shown as written inside Markdown: HTML escaped, Markdown's emphasis and link marks escaped."""
    return re.sub(r"([\\`*_\[\]#|~])", r"\\\1", html.escape(str(text), quote=False))


def status_markdown(engine: Any) -> str:
    """A one-line summary inside <details>; the open part lists each task (with why one cannot run) and the setup."""
    try:
        description = engine.describe()
        tasks = engine.task_status()
    except Exception:
        logger.exception("Could not read the engine status")
        return "Status unavailable: see the server log."
    ready = [task for task, reason in tasks.items() if reason is None]
    count = f"{len(ready)} tasks" if len(ready) == len(tasks) else f"{len(ready)} of {len(tasks)} tasks"
    device = device_label(str(description.get("device", "")))
    summary = " · ".join(part for part in ("Ready" if ready else "No task can run", device, count) if part)
    dot = "studio-dot" if len(ready) == len(tasks) else "studio-dot studio-warn"

    items = []
    for task, reason in tasks.items():
        name = plain(TASKS[task].label if task in TASKS else task)
        items.append(f"- {name} ✓" if reason is None else f"- {name} ✗ — {plain(reason)}")
    setup = []
    for key, label in SETUP:
        value = description.get(key)
        if value not in (None, ""):
            if key == "dtype" and description.get("autocast"):
                value = f"{value} (computing in {description['autocast']})"
            setup.append(f"{label}: **{plain(value)}**" if key in BOLD else f"{label}: {plain(value)}")
    notes = [f"- {plain(note)}" for note in description.get("notices") or []]
    parts = ["\n".join(items), " · ".join(setup), "\n".join(notes)]
    details = "\n\n".join(part for part in parts if part)
    return (
        f'<details><summary><span class="{dot}"></span>{html.escape(summary)}</summary>\n'
        f'<div class="studio-status-details">\n\n{details}\n\n</div>\n</details>'
    )
