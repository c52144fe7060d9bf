"""Cross-tab buttons: a result to another task's tab, a PNG (PNG info, History) to any tab; image, prompt, settings.

All work by name: a tab's "Send to <task>" buttons (`TaskTab.send_to`) put the selected image into that task's
`image_input`; the infotext fills each of a tab's named inputs it carries (`READERS`, by the handler's parameter
name): the prompt always, the other settings when the image was made by that task. A new task's tab takes part by
naming its inputs alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import gradio as gr
from gradio.events import Dependency

from ldm_core.infotext import parse_infotext
from ldm_core.schedulers import SAMPLER_BY_LABEL, SAMPLERS

from .sizes import SEMANTIC_CHOICES, SIZE_CHOICES
from .tabs.common import TaskTab, selected_image
from .tabs.history import HistoryTab
from .tabs.history import chosen as history_entry
from .tabs.png_info import PngInfoTab, lookup, normalized

MAX_SENT_NUMBER = 2**32  # the largest value any studio control takes (the seed)


def wire_send_to(
    tabs: gr.Tabs, task_tabs: dict[str, TaskTab], png_info: PngInfoTab, history: HistoryTab
) -> list[Dependency]:
    """Every send button's event; returns them (the UI follows each with what else a sent image changes)."""
    targets = {
        task: [(name, component, READERS[name]) for name, component in tab.inputs.items() if name in READERS]
        for task, tab in task_tabs.items()
    }
    images = {task: tab.image_input for task, tab in task_tabs.items() if tab.image_input is not None}
    images["png_info"] = png_info.image
    panels = {task: tab.result for task, tab in task_tabs.items() if tab.result is not None}

    def receivers(target: str) -> list[Any]:
        """What a send to `target` may change: its named inputs, its result panel, its image input."""
        panel = panels.get(target)
        shown = [panel.gallery, panel.seed_used, panel.infotext, panel.infotexts] if panel is not None else []
        return [component for _, component, _ in targets.get(target, [])] + shown + [images.get(target)]

    def outputs(*names: str, switch: bool = True) -> list[Any]:
        """The events' outputs: only the target's own components (the browser marks each output busy until the
        event is done), and the tabs only when the send moves to another tab: a tab a user picks meanwhile would
        otherwise be switched back when the browser finishes the event."""
        return _unique(([tabs] if switch else []) + [c for name in names for c in receivers(name) if c is not None])

    def send(target: str, image: Any, infotext: str | None, switch: bool = True) -> dict:
        """What `target` takes from one image and its infotext: the image (into its image input, or into its result
        panel when the image is its own result), the prompt, and all the settings when the image was made there."""
        parameters = normalized(parse_infotext(infotext)) if infotext else {}
        own = lookup(parameters, "task") == target
        updates: dict[Any, Any] = {tabs: gr.Tabs(selected=target)} if switch else {}
        for name, component, read in targets.get(target, []):
            value = read(parameters) if own or name in TRAVELLING else None
            if value is not None:
                updates[component] = value
        if image is not None and target in images:
            updates[images[target]] = image
        panel = panels.get(target)
        if image is not None and panel is not None and own:
            updates |= {panel.gallery: [image], panel.infotext: infotext, panel.infotexts: [infotext]}
            updates[panel.seed_used] = READERS["seed"](parameters)
        return updates

    events = []
    for name, source in task_tabs.items():
        for target, button in source.send_to.items():
            if source.result is None or target not in images:
                raise ValueError(f"a 'send to {target}' button needs a result gallery and {target}'s image_input")
            panel, switch = source.result, target != name  # a second pass in the same tab stays where it is
            events.append(
                button.click(
                    _from_gallery(send, target, switch),
                    [panel.gallery, panel.selected, panel.infotexts],
                    outputs(target, switch=switch),
                    api_visibility="private",
                )
            )

    def from_png_info(image: str | None, raw: str | None) -> dict:
        task = lookup(normalized(parse_infotext(raw)) if raw else {}, "task")
        if task not in targets:
            raise gr.Error("These parameters name no studio task; nothing to send.", print_exception=False)
        return send(task, image, raw)

    anywhere = outputs(*targets)  # PNG info's target is the task its parameters name
    events.append(
        png_info.send.click(from_png_info, [png_info.image, png_info.raw], anywhere, api_visibility="private")
    )
    for target, button in history.send.items():
        events.append(
            button.click(
                _from_history(send, target),
                [history.entries, history.selected],
                outputs(target),
                api_visibility="private",
            )
        )
    return events


TRAVELLING = ("prompt", "negative_prompt")  # what goes to another task's tab; the other settings stay with their task


def _from_gallery(send: Callable, target: str, switch: bool) -> Callable:
    def from_gallery(gallery, selected, infotexts):
        index = selected if isinstance(selected, int) and 0 <= selected < len(infotexts or []) else 0
        return send(target, selected_image(gallery, selected), (infotexts or [None])[index], switch)

    return from_gallery


def _from_history(send: Callable, target: str) -> Callable:
    def from_history(found, index):
        entry = history_entry(found, index)
        return send(target, entry["path"], entry["infotext"])

    return from_history


def _unique(components: list[Any]) -> list[Any]:
    return list({id(c): c for c in components}.values())


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


def _present(*names: str):
    """A1111 writes the hires keys only when the cascade ran: present means on."""
    return lambda parameters: lookup(parameters, *names) is not None


def _custom_size(parameters: dict) -> str | None:
    return SIZE_CHOICES[2] if lookup(parameters, "size") is not None else None


def _output_size(parameters: dict) -> str | None:
    value = lookup(parameters, "output_size")
    return next((label for label, name in SEMANTIC_CHOICES.items() if name == value), None)


def _extend(side: str):
    """ "Outpaint: left 0, top 0, right 32, bottom 0" -> that side's pixels (0 when the picture was not extended)."""

    def convert(parameters: dict) -> int:
        words = str(lookup(parameters, "outpaint") or "").replace(",", " ").split()
        pairs = dict(zip(words[::2], words[1::2], strict=False))
        try:
            return int(pairs.get(side, 0))
        except ValueError:
            return 0

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
    "size": _custom_size,
    "output_size": _output_size,
    "upscale_x4": _present("hires_upscale"),
    "upscale_steps": _number("hires_steps", cast=int),
    "outpaint_feather": _number("outpaint_feather", cast=int),
    **{f"extend_{side}": _extend(side) for side in ("left", "top", "right", "bottom")},
}
