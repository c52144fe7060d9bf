"""The status line: "Ready · CPU · 4 tasks" for people, the engine's details (dtype, memory mode, notes) on a click."""

from __future__ import annotations

import html
import logging
from typing import Any

from ldm_core.registry import TASKS

logger = logging.getLogger(__name__)


def device_label(device: str) -> str:
    """ "cpu" -> "CPU", "cuda:0" -> "GPU", "mps" -> "Apple GPU"; anything else as given."""
    kind = device.split(":")[0].lower()
    return {"cpu": "CPU", "cuda": "GPU", "mps": "Apple GPU"}.get(kind, device)


def status_html(engine: Any) -> str:
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
        name = html.escape(TASKS[task].label if task in TASKS else task)
        items.append(f"<li>{name} ✓</li>" if reason is None else f"<li>{name} ✗ — {html.escape(reason)}</li>")
    setup = []
    keys = (
        ("preset", "preset"),
        ("device", "device"),
        ("dtype", "weights"),
        ("memory_mode", "memory"),
        ("serving", "engine"),
    )
    for key, label in keys:
        value = description.get(key)
        if value not in (None, ""):
            if key == "dtype" and description.get("autocast"):
                value = f"{value} (computing in {description['autocast']})"
            setup.append(f"{label}: {html.escape(str(value))}")
    notes = [f"<li>{html.escape(str(note))}</li>" for note in description.get("notices") or []]
    details = f"<ul>{''.join(items)}</ul><div>{' · '.join(setup)}</div>" + (
        f"<ul>{''.join(notes)}</ul>" if notes else ""
    )
    return (
        f'<details><summary><span class="{dot}"></span>{html.escape(summary)}</summary>'
        f'<div class="studio-status-details">{details}</div></details>'
    )
