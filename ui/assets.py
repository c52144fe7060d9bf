"""The studio's own browser behaviour and styles (ui/static), installed by one hidden HTML component.

Gradio 6 takes page-wide css and js only as `launch()` arguments; an HTML component's `js_on_load` runs with the
page whoever launches the Blocks (the app, the tests, `gradio app.py`), so the studio ships its script that way.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import gradio as gr

STATIC = Path(__file__).resolve().parent / "static"


@cache
def studio_script() -> str:
    """studio.js with its stylesheet bound to `STUDIO_CSS`."""
    css = (STATIC / "studio.css").read_text(encoding="utf-8")
    return f"const STUDIO_CSS = {json.dumps(css)};\n" + (STATIC / "studio.js").read_text(encoding="utf-8")


def studio_assets() -> gr.HTML:
    """An empty HTML component whose `js_on_load` installs the keyboard shortcuts, palette clicks and styles."""
    return gr.HTML(
        "",
        js_on_load=studio_script(),
        elem_id="studio-assets",
        container=False,
        padding=False,
        apply_default_css=False,
    )
