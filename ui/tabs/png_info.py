"""PNG info tab: read the parameters a studio PNG carries and send them back to the tab that made it."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ldm_core.infotext import parse_infotext, read_infotext

logger = logging.getLogger(__name__)


@dataclass
class PngInfoTab:
    image: gr.Image
    raw: gr.Textbox
    parsed: gr.JSON
    send: gr.Button


def normalized(parameters: dict[str, Any]) -> dict[str, Any]:
    """Keys as snake_case ("CFG scale" -> "cfg_scale") so lookups do not depend on the infotext's spelling."""
    return {re.sub(r"[^a-z0-9]+", "_", str(k).lower()).strip("_"): v for k, v in (parameters or {}).items()}


def lookup(parameters: dict[str, Any], *names: str) -> Any:
    for name in names:
        if parameters.get(name) not in (None, ""):
            return parameters[name]
    return None


def build() -> PngInfoTab:
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(
                type="filepath",
                image_mode=None,
                sources=("upload", "clipboard"),
                label="Drop a PNG made by the studio",
                elem_id="pnginfo-image",
            )
        with gr.Column(scale=1):
            raw = gr.Textbox(label="Parameters (as stored)", lines=4, interactive=False, elem_id="pnginfo-raw")
            parsed = gr.JSON(label="Parsed", elem_id="pnginfo-parsed")
            send = gr.Button("Send to its tab", variant="primary", elem_id="pnginfo-send")

    def png_info(image: str | None) -> tuple[str, dict]:
        if image is None:
            return "", {}
        try:
            stored = read_infotext(image)  # linear and capped: a huge text chunk cannot stall the server
        except (OSError, SyntaxError, ValueError) as error:  # an unreadable file is the user's input, not a crash
            logger.info("Could not read PNG info from %s: %s", image, error)
            raise gr.Error("Could not read that file as an image.", print_exception=False) from error
        text = stored.text if stored is not None else ""
        if stored is not None and stored.note:
            gr.Warning(stored.note)
        if not text:
            gr.Warning("This image carries no generation parameters (only PNGs saved by the studio do).")
            return "", {}
        return text, parse_infotext(text)

    image.change(png_info, [image], [raw, parsed], api_name="png_info")
    return PngInfoTab(image, raw, parsed, send)
