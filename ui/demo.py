"""`build_demo(engine)`: the whole studio UI over one engine; holds no model and never loads one itself."""

from __future__ import annotations

import html
import importlib
import logging
from typing import Any

import gradio as gr

from ldm_core.limits import Limits
from ldm_core.registry import TASKS

from .cancellation import make_cancellable
from .http_guard import install_http_guard
from .inputs import name_input_errors
from .picker import build_picker, wire_png_info_model
from .queue_guard import guard_queue
from .runner import EngineRunner
from .send_to import wire_send_to
from .tabs import explorer, png_info
from .tabs.common import ENGINE_QUEUE

logger = logging.getLogger(__name__)

# gradio's upload and preview cache: every 10 minutes, files older than an hour go (all of it at each start)
DELETE_CACHE = (600, 3600)

TITLE = "Latent Diffusion Studio"


def status_markdown(engine: Any) -> str:
    """One line: preset, device, memory mode, and which tasks can run (with the reason when one cannot)."""
    try:
        description = engine.describe()
        tasks = engine.task_status()
    except Exception:
        logger.exception("Could not read the engine status")
        return "Status unavailable: see the server log."
    fields = []
    keys = (
        ("model", "model"),
        ("preset", "preset"),
        ("device", "device"),
        ("dtype", "dtype"),
        ("memory_mode", "memory"),
        ("serving", "engine"),
    )
    for key, label in keys:
        if description.get(key) not in (None, ""):
            value = str(description[key]) + (
                f" + {description['autocast']} autocast" if key == "dtype" and description.get("autocast") else ""
            )
            fields.append(f"{label}: **{html.escape(value)}**")
    task_parts = []
    for task, reason in tasks.items():
        name = TASKS[task].label if task in TASKS else task
        task_parts.append(
            f"{name} ✓"
            if reason is None
            else f"{name} ✗ <span title='{html.escape(reason)}'>({html.escape(reason)})</span>"
        )
    lines = [" · ".join(fields), "tasks: " + ", ".join(task_parts)]
    lines += [f"<small>note: {html.escape(str(notice))}</small>" for notice in description.get("notices") or []]
    return "<br>".join(lines)


def build_demo(engine: Any, title: str = TITLE) -> gr.Blocks:
    """The studio's Blocks over `engine` (anything with `run`, `task_status`, `describe`)."""
    runner = EngineRunner(engine)
    limits = getattr(getattr(engine, "config", None), "limits", None) or Limits()
    with gr.Blocks(title=title, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(f"## {title}\nLatent diffusion (Rombach et al., 2022): one shared core, {len(TASKS)} tasks.")
        status = gr.Markdown("Reading the engine status…", elem_id="status-line")
        picker = build_picker(engine, status, lambda: status_markdown(engine))
        with gr.Tabs(elem_id="tabs") as tabs:
            task_tabs = {}
            for spec in TASKS.values():  # one tab per registered task, built by the module the registry names
                with gr.Tab(spec.tab_label, id=spec.name, elem_id=f"tab-{spec.name}"):
                    task_tabs[spec.name] = importlib.import_module(spec.tab).build(runner, limits)
            with gr.Tab("PNG info", id="png_info", elem_id="tab-pnginfo"):
                png_info_tab = png_info.build()
            with gr.Tab("Inside the model", id="explorer", elem_id="tab-explorer"):
                explorer.build(runner, limits)
        wire_send_to(tabs, task_tabs, png_info_tab)
        wire_png_info_model(engine, picker, png_info_tab)
        demo.load(lambda: status_markdown(engine), None, [status], api_name="status")
    name_input_errors(demo, limits)
    make_cancellable(demo, ENGINE_QUEUE["concurrency_id"])  # any cancel (button, queue, closed tab) stops the engine
    guard_queue(demo, runner)  # per-user job cap; Cancel never refused; Cancel drops the session's queued jobs
    config = getattr(engine, "config", None)
    outputs = config.outputs_dir if getattr(config, "save_outputs", False) else None
    install_http_guard(demo, outputs_dir=outputs)  # login throttling; outputs to their owner; early cancels
    return demo
