"""`build_demo(engine)`: the whole studio UI over one engine; holds no model and never loads one itself."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from .assets import studio_assets
from .inputs import name_input_errors
from .runner import EngineRunner
from .send_to import wire_send_to
from .status import status_html
from .tabs import history, inpaint, png_info, semantic, text2img, upscale
from .tabs.common import wire_cancel_api

logger = logging.getLogger(__name__)

TITLE = "Latent Diffusion Studio"


def outputs_folder(engine: Any) -> Path | None:
    """Where the engine saves results (None when it does not save: no history then)."""
    config = getattr(engine, "config", None)
    if config is None or not getattr(config, "save_outputs", False):
        return None
    return Path(config.outputs_dir)


def build_demo(engine: Any, title: str = TITLE) -> gr.Blocks:
    """The studio's Blocks over `engine` (anything with `run`, `task_status`, `describe`)."""
    runner = EngineRunner(engine)
    with gr.Blocks(title=title) as demo:
        with gr.Row(elem_id="studio-header", equal_height=True):
            gr.Markdown(
                f"## {title}\nLatent diffusion (Rombach et al., 2022): one shared core, four tasks.",
                elem_id="studio-title",
            )
            status = gr.HTML("Reading the engine status…", elem_id="status-line", container=False, padding=False)
        studio_assets()
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
            with gr.Tab("History", id="history", elem_id="tab-history") as history_page:
                history_tab = history.build(outputs_folder(engine))
        history_page.select(history_tab.show, [history_tab.search], history_tab.listing, api_visibility="private")
        wire_send_to(tabs, text2img_tab, semantic_tab, inpaint_tab, upscale_tab, png_info_tab, history_tab)
        wire_cancel_api(runner)
        demo.load(lambda: status_html(engine), None, [status], api_name="status")
    name_input_errors(demo, getattr(getattr(engine, "config", None), "limits", None))
    return demo
