"""The checkpoint picker: one dropdown over the engine's choices (builtin, the models folder's .safetensors files,
the presets). Choosing one calls `engine.select_model`, which frees the old model and loads the new under the
engine's lock; the dropdown then always shows what the engine really holds (a refused file snaps back).
PNG info's "Send to its tab" also selects the checkpoint an image names by `Model hash:` (or by its file name).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gradio as gr

from ldm_core.errors import StudioError

from .tabs.png_info import PngInfoTab, lookup, normalized

logger = logging.getLogger(__name__)


def supports_picker(engine: Any) -> bool:
    """Engines served elsewhere (replicas) do not switch models from the page."""
    return all(hasattr(engine, name) for name in ("model_choices", "select_model", "hashes"))


def choice_names(engine: Any) -> list[str]:
    return [choice.name for choice in engine.model_choices()]


def build_picker(engine: Any, status: gr.Markdown, status_text: Callable[[], str]) -> gr.Dropdown | None:
    """The dropdown (with a rescan button) above the tabs; None when the engine cannot switch models."""
    if not supports_picker(engine):
        return None
    folder = getattr(engine.config, "models_dir", None) or "models"
    with gr.Row(equal_height=True):
        dropdown = gr.Dropdown(
            choice_names(engine),
            value=engine.describe().get("model"),
            label="Checkpoint",
            info=f"the built-in family, the .safetensors files in {folder}/, or a preset",
            elem_id="model-picker",
            scale=6,
        )
        rescan = gr.Button("Rescan folder", elem_id="model-picker-rescan", scale=1)

    def select(name: str | None) -> str:
        if not name:
            raise gr.Error("model: choose a checkpoint from the list", print_exception=False)
        if name != engine.describe().get("model"):
            try:
                engine.select_model(name)
            except StudioError as error:
                raise gr.Error(str(error), print_exception=False) from error
        return status_text()

    def current() -> Any:
        return gr.Dropdown(choices=choice_names(engine), value=engine.describe().get("model"))

    dropdown.change(select, [dropdown], [status], api_name="select_model", concurrency_limit=1).then(
        current, None, [dropdown], api_visibility="private"
    )
    rescan.click(current, None, [dropdown], api_name="models")
    return dropdown


def wire_png_info_model(engine: Any, dropdown: gr.Dropdown | None, png_info: PngInfoTab) -> None:
    """PNG info -> send: also select the checkpoint the parameters name, when the models folder has it."""
    if dropdown is None:
        return

    def pick(parsed: dict | None) -> Any:
        parameters = normalized(parsed or {})
        wanted_hash, wanted_name = lookup(parameters, "model_hash"), lookup(parameters, "model")
        folder = getattr(engine.config, "models_dir", None)
        choice = engine.hashes.find(str(wanted_hash), folder) if wanted_hash else None
        if choice is None and wanted_name:
            names = {name.rsplit(".safetensors", 1)[0]: name for name in choice_names(engine)}
            found = names.get(str(wanted_name))
            choice = next((item for item in engine.model_choices() if item.name == found), None)
        if choice is None:
            if wanted_hash:
                gr.Info(f"Model hash {wanted_hash} is not in the models folder; the current checkpoint stays.")
            return gr.skip()
        return gr.Dropdown(value=choice.name)

    png_info.send.click(pick, [png_info.parsed], [dropdown], api_visibility="private")
