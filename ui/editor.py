"""Reading `gr.ImageEditor` values (background, layers, composite); the palette the semantic tab paints with."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from ldm_core.palette import CLASS_ID, CLASSES, PALETTE
from ldm_core.validation import image_file_error


def palette_hex() -> list[str]:
    return ["#{:02x}{:02x}{:02x}".format(*c.color) for c in CLASSES]


def filled_canvas(size: tuple[int, int], class_name: str = "sky") -> Image.Image:
    """A blank colour map filled with one class: the default canvas of the semantic tab."""
    color = tuple(int(v) for v in PALETTE[CLASS_ID[class_name]])
    return Image.new("RGB", size, color)


def _as_image(value: Any) -> Image.Image | None:
    """An editor part (PIL image, array or file path) as an image; a malformed part is a named `gr.Error`."""
    if value is None:
        return None
    try:
        if isinstance(value, Image.Image):
            return value
        if isinstance(value, np.ndarray):
            return Image.fromarray(value)
        if isinstance(value, str | Path):
            return Image.open(value)
    except (OSError, SyntaxError, ValueError, TypeError, Image.DecompressionBombError) as error:
        raise gr.Error(str(image_file_error("image", error)), print_exception=False) from error
    raise gr.Error(
        f"image: the editor sent a {type(value).__name__} where an image belongs; upload the image again",
        print_exception=False,
    )


def editor_background(value: dict | None) -> Image.Image | None:
    """The uploaded image under the editor's layers, as RGB (None when nothing was uploaded)."""
    if not value:
        return None
    background = _as_image(value.get("background"))
    return None if background is None else background.convert("RGB")


def editor_composite(value: dict | None, fill: tuple[int, int, int]) -> Image.Image | None:
    """Background and layers flattened onto `fill` (transparent holes, e.g. after the eraser, take the fill)."""
    if not value:
        return None
    composite = _as_image(value.get("composite"))
    layers = [layer for layer in (_as_image(v) for v in value.get("layers") or []) if layer is not None]
    background = _as_image(value.get("background"))
    if composite is None:  # API callers may send only background and layers
        parts = [p for p in [background, *layers] if p is not None]
        if not parts:
            return None
        composite = Image.new("RGBA", parts[0].size, (0, 0, 0, 0))
        for part in parts:
            composite.alpha_composite(part.convert("RGBA").resize(composite.size, Image.Resampling.NEAREST))
    flat = Image.new("RGBA", composite.size, (*fill, 255))
    flat.alpha_composite(composite.convert("RGBA"))
    return flat.convert("RGB")


def editor_mask(value: dict | None) -> Image.Image | None:
    """The painted mask: white where any layer has alpha > 0, sized like the background; None if nothing is painted."""
    if not value:
        return None
    background = _as_image(value.get("background"))
    layers = [layer for layer in (_as_image(v) for v in value.get("layers") or []) if layer is not None]
    if not layers:
        return None
    size = background.size if background is not None else layers[0].size
    painted = np.zeros((size[1], size[0]), dtype=bool)
    for layer in layers:
        layer = layer.convert("RGBA")
        if layer.size != size:
            layer = layer.resize(size, Image.Resampling.NEAREST)
        painted |= np.asarray(layer)[..., 3] > 0
    if not painted.any():
        return None
    return Image.fromarray(painted.astype(np.uint8) * 255, mode="L")


def palette_legend_html(editor_id: str, brush_size: int) -> str:
    """The class legend as buttons (studio.js: a click picks that brush colour) and a brush-size slider."""
    chips = []
    for scene_class, color in zip(CLASSES, palette_hex(), strict=True):
        name = html.escape(scene_class.name)
        chips.append(
            f'<button type="button" data-color="{color}" data-label="{name}" title="Paint {name}" '
            f'aria-pressed="false"><span class="studio-chip" style="background:{color}"></span>{name}</button>'
        )
    size = (
        f'<label class="studio-brush-size" data-editor="{editor_id}">Brush size '
        f'<input type="range" min="1" max="100" value="{brush_size}" aria-label="Brush size"></label>'
    )
    return f'<div id="semantic-palette" class="studio-legend" data-editor="{editor_id}">{"".join(chips)}{size}</div>'
