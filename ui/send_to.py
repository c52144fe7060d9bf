"""Cross-tab buttons: generated images to another task's tab, PNG-info parameters back to the tab that made them.

Both work by name: a tab's "Send to <task>" buttons (`TaskTab.send_to`) put the selected image into that task's
`image_input`; PNG info fills each of a tab's named inputs that infotext carries (`READERS`, by the handler's
parameter name), so a new task's tab takes part by naming its inputs alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import gradio as gr

from ldm_core.schedulers import SAMPLER_BY_LABEL, SAMPLERS

from .tabs.common import TaskTab, selected_image
from .tabs.png_info import PngInfoTab, lookup, normalized

MAX_SENT_NUMBER = 2**32  # the largest value any studio control takes (the seed)


def wire_send_to(tabs: gr.Tabs, task_tabs: dict[str, TaskTab], png_info: PngInfoTab) -> None:
    for source in task_tabs.values():
        for target, button in source.send_to.items():
            image_input = task_tabs[target].image_input
            if source.result is None or image_input is None:
                raise ValueError(f"a 'send to {target}' button needs a result gallery and {target}'s image_input")
            button.click(
                _send_image(target),
                [source.result.gallery, source.result.selected],
                [image_input, tabs],
                api_visibility="private",
            )

    targets = {
        task: [(component, READERS[name]) for name, component in tab.inputs.items() if name in READERS]
        for task, tab in task_tabs.items()
    }
    outputs = [tabs, *{id(c): c for fields in targets.values() for c, _ in fields}.values()]

    def send_parameters(parsed: dict | None) -> dict:
        parameters = normalized(parsed or {})
        task = lookup(parameters, "task")
        if task not in targets:
            raise gr.Error("These parameters name no studio task; nothing to send.", print_exception=False)
        updates: dict[Any, Any] = {tabs: gr.Tabs(selected=task)}
        for component, read in targets[task]:
            value = read(parameters)
            if value is not None:
                updates[component] = value
        return updates

    png_info.send.click(send_parameters, [png_info.parsed], outputs, api_visibility="private")


def _send_image(target: str) -> Callable:
    def send(gallery, selected):
        return selected_image(gallery, selected), gr.Tabs(selected=target)

    return send


def _number(*names: str, cast=float):
    def convert(parameters: dict) -> Any:
        value = lookup(parameters, *names)
        try:
            number = None if value is None else cast(value)
        except (TypeError, ValueError, OverflowError):
            return None
        if number is not None and not (math.isfinite(number) and abs(number) <= MAX_SENT_NUMBER):
            return None  # a huge or infinite number from a crafted PNG is not sent to any control
        return number

    return convert


def _text(*names: str):
    return lambda parameters: lookup(parameters, *names)


def _says(name: str, meaning: str):
    """A1111 writes some switches only when on ("Mask mode: Inpaint not masked"): absent means off."""
    return lambda parameters: str(lookup(parameters, name) or "").lower() == meaning.lower()


def _sampler(parameters: dict) -> str | None:
    """Infotext holds the A1111 label ("DPM++ 2M"); the dropdown holds our name ("dpm++2m")."""
    value = lookup(parameters, "sampler", "scheduler")
    if value is None:
        return None
    return SAMPLER_BY_LABEL.get(value, value if value in SAMPLERS else None)


def _size(index: int):
    def convert(parameters: dict) -> int | None:
        value = lookup(parameters, "width" if index == 0 else "height")
        if value is None and isinstance(lookup(parameters, "size"), str):
            parts = lookup(parameters, "size").lower().split("x")
            value = parts[index] if len(parts) == 2 else None
        try:
            number = None if value is None else int(value)
        except (ValueError, OverflowError):
            return None
        return number if number is None or 0 <= number <= MAX_SENT_NUMBER else None

    return convert


# handler parameter name -> how to read its value from the normalized infotext parameters
READERS: dict[str, Callable[[dict], Any]] = {
    "prompt": _text("prompt"),
    "negative_prompt": _text("negative_prompt"),
    "sampler": _sampler,
    "steps": _number("steps", "num_inference_steps", cast=int),
    "seed": _number("seed", cast=int),
    "guidance": _number("cfg_scale", "guidance_scale", "guidance"),
    "width": _size(0),
    "height": _size(1),
    "strength": _number("denoising_strength", "strength"),
    "mask_blur": _number("mask_blur", cast=int),
    "invert_mask": _says("mask_mode", "Inpaint not masked"),
    "only_masked": _says("inpaint_area", "Only masked"),
    "only_masked_padding": _number("masked_area_padding", cast=int),
    "tile_size": _number("tile_size", cast=int),
    "tile_overlap": _number("tile_overlap", cast=int),
}
