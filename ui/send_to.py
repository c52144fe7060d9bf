"""Cross-tab buttons: generated images to inpainting / super-resolution, PNG-info parameters back to their tab."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ldm_core.schedulers import SAMPLER_BY_LABEL, SAMPLERS

from .tabs.common import selected_image
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
) -> None:
    def to_inpaint(gallery, selected):
        return selected_image(gallery, selected), gr.Tabs(selected="inpaint")

    def to_upscale(gallery, selected):
        return selected_image(gallery, selected), gr.Tabs(selected="upscale")

    for source in (text2img, semantic):
        panel = source.result
        source.send_to_inpaint.click(
            to_inpaint, [panel.gallery, panel.selected], [inpaint.editor, tabs], api_visibility="private"
        )
    for source in (text2img, semantic, inpaint):
        panel = source.result
        source.send_to_upscale.click(
            to_upscale, [panel.gallery, panel.selected], [upscale.image, tabs], api_visibility="private"
        )

    targets = _parameter_targets(text2img, semantic, inpaint, upscale)
    outputs = [tabs, *{id(c): c for fields in targets.values() for c, _ in fields}.values()]

    def send_parameters(parsed: dict | None) -> dict:
        parameters = normalized(parsed or {})
        task = lookup(parameters, "task")
        if task not in targets:
            raise gr.Error("These parameters name no studio task; nothing to send.", print_exception=False)
        updates: dict[Any, Any] = {tabs: gr.Tabs(selected=task)}
        for component, convert in targets[task]:
            value = convert(parameters)
            if value is not None:
                updates[component] = value
        return updates

    png_info.send.click(send_parameters, [png_info.parsed], outputs, api_visibility="private")


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
