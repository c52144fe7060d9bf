"""Cross-tab buttons: a result to inpainting or super-resolution, a PNG (PNG info, history) to any tab."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ldm_core.infotext import parse_infotext
from ldm_core.schedulers import SAMPLER_BY_LABEL, SAMPLERS

from .tabs.common import selected_image
from .tabs.history import HistoryTab
from .tabs.history import chosen as history_entry
from .tabs.inpaint import InpaintTab
from .tabs.png_info import PngInfoTab, lookup, normalized
from .tabs.semantic import SemanticTab
from .tabs.text2img import Text2ImgTab
from .tabs.upscale import UpscaleTab


def wire_send_to(
    tabs: gr.Tabs,
    text2img: Text2ImgTab,
    semantic: SemanticTab,
    inpaint: InpaintTab,
    upscale: UpscaleTab,
    png_info: PngInfoTab,
    history: HistoryTab,
) -> None:
    """Result -> inpainting / super-resolution (image and prompt), PNG info and history -> any tab (image, prompt and
    settings)."""
    targets = _parameter_targets(text2img, semantic, inpaint, upscale)
    panels = {"text2img": text2img.result, "semantic": semantic.result, "inpaint": inpaint.result}
    images = {"inpaint": inpaint.editor, "upscale": upscale.image, "png_info": png_info.image}
    outputs = _unique(
        [tabs]
        + [c for fields in targets.values() for c, _ in fields]
        + [c for panel in panels.values() for c in (panel.gallery, panel.seed_used, panel.infotext, panel.infotexts)]
        + list(images.values())
    )

    def send(target: str, image: str | None, infotext: str | None) -> dict:
        """Everything `target` can take from one saved image: its settings, the image itself, and, when the image
        was made by that tab, the image in its result panel (seed and parameters beside it)."""
        parameters = normalized(parse_infotext(infotext)) if infotext else {}
        updates: dict[Any, Any] = {tabs: gr.Tabs(selected=target)}
        for component, convert in targets.get(target, []):
            value = convert(parameters)
            if value is not None:
                updates[component] = value
        if image is not None and target in images:
            updates[images[target]] = image
        panel = panels.get(target)
        if image is not None and panel is not None and lookup(parameters, "task") == target:
            updates[panel.gallery] = [image]
            updates[panel.infotext] = infotext or ""
            updates[panel.infotexts] = [infotext or ""]
            seed = _number("seed", cast=int)(parameters)
            updates[panel.seed_used] = seed
        return updates

    for source, panel in panels.items():
        tab = {"text2img": text2img, "semantic": semantic, "inpaint": inpaint}[source]
        for target, button in (("inpaint", getattr(tab, "send_to_inpaint", None)), ("upscale", tab.send_to_upscale)):
            if button is None:
                continue

            def from_gallery(gallery, selected, texts, target=target):
                index = selected if isinstance(selected, int) and 0 <= selected < len(texts or []) else 0
                text = texts[index] if texts and index < len(texts) else None
                return send(target, selected_image(gallery, selected), text)

            button.click(
                from_gallery, [panel.gallery, panel.selected, panel.infotexts], outputs, api_visibility="private"
            )

    def from_png_info(image: str | None, raw: str | None) -> dict:
        parameters = normalized(parse_infotext(raw)) if raw else {}
        task = lookup(parameters, "task")
        if task not in targets:
            raise gr.Error("These parameters name no studio task; nothing to send.", print_exception=False)
        return send(task, image, raw)

    png_info.send.click(from_png_info, [png_info.image, png_info.raw], outputs, api_visibility="private")

    for target, button in history.send.items():

        def from_history(found, index, target=target):
            entry = history_entry(found, index)
            return send(target, entry["path"], entry["infotext"])

        button.click(from_history, [history.entries, history.selected], outputs, api_visibility="private")


def _unique(components: list[Any]) -> list[Any]:
    return list({id(c): c for c in components}.values())


def _number(*names: str, cast=float):
    def convert(parameters: dict) -> Any:
        value = lookup(parameters, *names)
        try:
            return None if value is None else cast(value)
        except (TypeError, ValueError):
            return None

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
            return None if value is None else int(value)
        except ValueError:
            return None

    return convert


def _sampling(sampling) -> list[tuple[Any, Any]]:
    fields = [
        (sampling.scheduler, _sampler),
        (sampling.steps, _number("steps", "num_inference_steps", cast=int)),
        (sampling.seed, _number("seed", cast=int)),
    ]
    if sampling.guidance is not None:
        fields.append((sampling.guidance, _number("cfg_scale", "guidance_scale", "guidance")))
    return fields


def _parameter_targets(text2img: Text2ImgTab, semantic: SemanticTab, inpaint: InpaintTab, upscale: UpscaleTab):
    """For each task: (component, how to read its value from the normalized parameters)."""

    def prompts(tab: Text2ImgTab | SemanticTab | InpaintTab) -> list[tuple[Any, Any]]:
        return [(tab.prompt, _text("prompt")), (tab.negative_prompt, _text("negative_prompt"))]

    return {
        "text2img": [
            *prompts(text2img),
            *_sampling(text2img.sampling),
            (text2img.width, _size(0)),
            (text2img.height, _size(1)),
        ],
        "semantic": [*prompts(semantic), *_sampling(semantic.sampling)],
        "inpaint": [
            *prompts(inpaint),
            *_sampling(inpaint.sampling),
            (inpaint.strength, _number("denoising_strength", "strength")),
            (inpaint.mask_blur, _number("mask_blur", cast=int)),
            (inpaint.invert_mask, _says("mask_mode", "Inpaint not masked")),
            (inpaint.only_masked, _says("inpaint_area", "Only masked")),
            (inpaint.padding, _number("masked_area_padding", cast=int)),
        ],
        "upscale": [
            *_sampling(upscale.sampling),
            (upscale.tile_size, _number("tile_size", cast=int)),
            (upscale.tile_overlap, _number("tile_overlap", cast=int)),
        ],
    }
