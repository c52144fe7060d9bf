"""`build_demo(engine)`: the whole studio UI over one engine; holds no model and never loads one itself."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import gradio as gr

from ldm_core.limits import Limits
from ldm_core.registry import TASKS

from .assets import studio_assets
from .cancellation import make_cancellable
from .http_guard import install_http_guard
from .inputs import name_input_errors
from .picker import build_picker, wire_png_info_model
from .queue_guard import guard_queue
from .runner import EngineRunner
from .send_to import wire_send_to
from .sizes import cascade_updates, size_updates
from .status import status_markdown
from .tabs import explorer, history, png_info
from .tabs.common import ENGINE_QUEUE, wire_cancel_api

logger = logging.getLogger(__name__)

# gradio's upload and preview cache: every 10 minutes, files older than an hour go (all of it at each start)
DELETE_CACHE = (600, 3600)

TITLE = "Latent Diffusion Studio"
CASCADE = ("upscale_x4", "upscale_steps")  # the cascade controls' names in the tabs that have them
SIZES = ("size", "width", "height")  # text-to-image's size controls


def outputs_folder(engine: Any) -> Path | None:
    """Where the engine saves results (None when it does not save: no history then)."""
    config = getattr(engine, "config", None)
    if config is None or not getattr(config, "save_outputs", False):
        return None
    return Path(config.outputs_dir)


def build_demo(engine: Any, title: str = TITLE) -> gr.Blocks:
    """The studio's Blocks over `engine` (anything with `run`, `task_status`, `describe`)."""
    runner = EngineRunner(engine)
    limits = getattr(getattr(engine, "config", None), "limits", None) or Limits()
    with gr.Blocks(title=title, delete_cache=DELETE_CACHE) as demo:
        with gr.Row(elem_id="studio-header", equal_height=True):
            with gr.Column(scale=3, min_width=260):
                gr.Markdown(
                    f"## {title}\nLatent diffusion (Rombach et al., 2022): one shared core, {len(TASKS)} tasks.",
                    elem_id="studio-title",
                )
                status = gr.Markdown("Reading the engine status…", elem_id="status-line")
            with gr.Column(scale=2, min_width=260):
                picker = build_picker(engine, status, lambda: status_markdown(engine))
        studio_assets()
        with gr.Tabs(elem_id="tabs") as tabs:
            task_tabs = {}
            for spec in TASKS.values():  # one tab per registered task, built by the module the registry names
                with gr.Tab(spec.tab_label, id=spec.name, elem_id=f"tab-{spec.name}"):
                    task_tabs[spec.name] = importlib.import_module(spec.tab).build(runner, limits)
            with gr.Tab("PNG info", id="png_info", elem_id="tab-pnginfo"):
                png_info_tab = png_info.build()
            with gr.Tab("Inside the model", id="explorer", elem_id="tab-explorer"):
                explorer.build(runner, limits)
            with gr.Tab("History", id="history", elem_id="tab-history") as history_page:
                targets = {name: spec.tab_label for name, spec in TASKS.items()} | {"png_info": "PNG info"}
                history_tab = history.build(outputs_folder(engine), targets)
        history_page.select(history_tab.show, [history_tab.search], history_tab.listing, api_visibility="private")
        sends = wire_send_to(tabs, task_tabs, png_info_tab, history_tab)
        wire_png_info_model(engine, picker, png_info_tab)
        wire_cancel_api(runner)
        demo.load(lambda: status_markdown(engine), None, [status], api_name="status")
        wire_controls_to_engine(engine, status, sends, task_tabs)
    name_input_errors(demo, limits)
    make_cancellable(demo, ENGINE_QUEUE["concurrency_id"])  # any cancel (button, queue, closed tab) stops the engine
    guard_queue(demo, runner)  # per-user job cap; Cancel never refused; Cancel drops the session's queued jobs
    config = getattr(engine, "config", None)
    outputs = config.outputs_dir if getattr(config, "save_outputs", False) else None
    install_http_guard(demo, outputs_dir=outputs)  # login throttling; outputs to their owner; early cancels
    return demo


def wire_controls_to_engine(engine: Any, status: gr.Markdown, sends: list[Any], task_tabs: dict[str, Any]) -> None:
    """Controls follow the engine whenever its status changes (the page loads, another model is chosen): the "Upscale
    ×4" boxes open, at their tab's default, or lock off with the reason; text-to-image's size notes name the model's
    size. An image sent to a tab cannot tick a locked box."""
    cascades = [tab.inputs[name] for tab in task_tabs.values() if "upscale_x4" in tab.inputs for name in CASCADE]
    sizes = [task_tabs["text2img"].inputs[name] for name in SIZES] if "text2img" in task_tabs else []
    boxes = [tab.inputs["upscale_x4"] for tab in task_tabs.values() if "upscale_x4" in tab.inputs]

    def follow() -> list[Any]:
        native = engine.native_size("text2img") if hasattr(engine, "native_size") and sizes else None
        return cascade_updates(engine, boxes, reset=True) + (size_updates(native) if sizes else [])

    status.change(follow, None, cascades + sizes, api_visibility="private")
    for send in sends if cascades else []:
        send.then(lambda: cascade_updates(engine, boxes, reset=False), None, cascades, api_visibility="private")
