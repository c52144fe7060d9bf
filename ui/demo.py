"""`build_demo(engine)`: the whole studio UI over one engine; holds no model and never loads one itself."""

from __future__ import annotations

import html
import logging
from typing import Any

import gradio as gr

from .cancellation import make_cancellable
from .http_guard import install_http_guard
from .inputs import name_input_errors
from .queue_guard import guard_queue
from .runner import EngineRunner
from .send_to import wire_send_to
from .tabs import inpaint, png_info, semantic, text2img, upscale
from .tabs.common import ENGINE_QUEUE

logger = logging.getLogger(__name__)

# gradio's upload and preview cache: every 10 minutes, files older than an hour go (all of it at each start)
DELETE_CACHE = (600, 3600)

TITLE = "Latent Diffusion Studio"
TASK_LABELS = {
    "text2img": "text-to-image",
    "semantic": "semantic map",
    "inpaint": "inpainting",
    "upscale": "super-resolution ×4",
}


def status_markdown(engine: Any) -> str:
    """One line: preset, device, memory mode, and which tasks can run (with the reason when one cannot)."""
    try:
        description = engine.describe()
        tasks = engine.task_status()
    except Exception:
        logger.exception("Could not read the engine status")
        return "Status unavailable: see the server log."
    fields = []
    for key, label in (("preset", "preset"), ("device", "device"), ("dtype", "dtype"), ("memory_mode", "memory")):
        if description.get(key) not in (None, ""):
            value = str(description[key]) + (
                f" + {description['autocast']} autocast" if key == "dtype" and description.get("autocast") else ""
            )
            fields.append(f"{label}: **{html.escape(value)}**")
    task_parts = []
    for task, reason in tasks.items():
        name = TASK_LABELS.get(task, task)
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
    with gr.Blocks(title=title, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(f"## {title}\nLatent diffusion (Rombach et al., 2022): one shared core, four tasks.")
        status = gr.Markdown("Reading the engine status…", elem_id="status-line")
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Text-to-image", id="text2img", elem_id="tab-text2img"):
                text2img_tab = text2img.build(runner)
            with gr.Tab("Semantic map", id="semantic", elem_id="tab-semantic"):
                semantic_tab = semantic.build(runner)
            with gr.Tab("Inpainting", id="inpaint", elem_id="tab-inpaint"):
                inpaint_tab = inpaint.build(runner)
            with gr.Tab("Super-resolution", id="upscale", elem_id="tab-upscale"):
                upscale_tab = upscale.build(runner)
            with gr.Tab("PNG info", id="png_info", elem_id="tab-pnginfo"):
                png_info_tab = png_info.build()
        wire_send_to(tabs, text2img_tab, semantic_tab, inpaint_tab, upscale_tab, png_info_tab)
        demo.load(lambda: status_markdown(engine), None, [status], api_name="status")
    name_input_errors(demo, getattr(getattr(engine, "config", None), "limits", None))
    make_cancellable(demo, ENGINE_QUEUE["concurrency_id"])  # any cancel (button, queue, closed tab) stops the engine
    guard_queue(demo, runner)  # per-user job cap; Cancel never refused; Cancel drops the session's queued jobs
    config = getattr(engine, "config", None)
    outputs = config.outputs_dir if getattr(config, "save_outputs", False) else None
    install_http_guard(demo, outputs_dir=outputs)  # login throttling; outputs to their owner; early cancels
    return demo
