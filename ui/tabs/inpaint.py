"""Inpainting tab (LDM Sec. 4.5): upload an image, paint the area to repaint, describe what should be there."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ldm_core.requests import InpaintRequest

from ..controls import (
    ResultPanel,
    SamplingControls,
    gallery_outputs,
    gallery_stream,
    request_default,
    result_panel,
    sampling_controls,
    sampling_kwargs,
    strength_slider,
)
from ..editor import editor_background, editor_mask
from ..run_view import run_view, wire_run
from ..runner import EngineRunner, session_of
from ..words import placeholder, prompt_vocabulary, words_html
from .common import ENGINE_QUEUE, GALLERY_EMPTY, action_row, send_to_row, wire_reuse_seed

MASK_BRUSH = ("#ff2bd6", 0.7)  # any colour works: the mask is wherever the layer has alpha > 0


@dataclass
class InpaintTab:
    editor: gr.ImageEditor
    prompt: gr.Textbox
    negative_prompt: gr.Textbox
    mask_blur: gr.Slider
    invert_mask: gr.Checkbox
    only_masked: gr.Checkbox
    padding: gr.Slider
    strength: gr.Slider
    sampling: SamplingControls
    result: ResultPanel
    send_to_inpaint: gr.Button
    send_to_upscale: gr.Button


def build(runner: EngineRunner) -> InpaintTab:
    with gr.Row():
        with gr.Column(scale=1):
            editor = gr.ImageEditor(
                type="pil",
                image_mode="RGBA",
                sources=("upload", "clipboard"),
                brush=gr.Brush(colors=[MASK_BRUSH], default_color=MASK_BRUSH, color_mode="fixed", default_size="auto"),
                layers=False,
                transforms=(),
                format="png",
                label="Image: upload, then paint over the area to repaint",
                height=330,
                elem_id="inpaint-editor",
            )
            words = prompt_vocabulary(runner.engine)
            prompt = gr.Textbox(
                value="",
                label="Prompt: what the painted area should show",
                lines=1,
                placeholder=placeholder(words),
                elem_id="inpaint-prompt",
            )
            generate, cancel = action_row("inpaint", "Inpaint")
            view = run_view("inpaint")
            if words:
                gr.HTML(words_html("inpaint-prompt", words), elem_id="inpaint-words")
            negative_prompt = gr.Textbox(value="", label="Negative prompt", elem_id="inpaint-negative")
            with gr.Row():
                strength = strength_slider("inpaint", InpaintRequest, "1 repaints from pure noise")
                mask_blur = gr.Slider(
                    0,
                    64,
                    value=request_default(InpaintRequest, "mask_blur"),
                    step=1,
                    label="Mask blur (px)",
                    elem_id="inpaint-mask-blur",
                )
            with gr.Row():
                invert_mask = gr.Checkbox(
                    value=request_default(InpaintRequest, "invert_mask"),
                    label="Invert mask (repaint everything else)",
                    elem_id="inpaint-invert",
                )
                only_masked = gr.Checkbox(
                    value=request_default(InpaintRequest, "only_masked"),
                    label="Only masked area (crop, inpaint at model size, paste back)",
                    elem_id="inpaint-only-masked",
                )
                padding = gr.Slider(
                    0,
                    256,
                    value=request_default(InpaintRequest, "only_masked_padding"),
                    step=4,
                    label="Only-masked padding (px)",
                    elem_id="inpaint-padding",
                )
            sampling = sampling_controls("inpaint", InpaintRequest)
        with gr.Column(scale=1):
            result = result_panel("inpaint")
            send_to_inpaint, send_to_upscale = send_to_row("inpaint")

    def inpaint(
        image_and_mask: dict | None,
        prompt: str,
        negative_prompt: str,
        strength: float,
        mask_blur: float,
        invert_mask: bool,
        only_masked: bool,
        only_masked_padding: float,
        sampler: str,
        steps: float,
        guidance: float,
        seed: float,
        batch_size: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio reads the default)
    ):
        image = editor_background(image_and_mask)
        if image is None:
            raise gr.Error("image: upload an image to inpaint first.", print_exception=False)
        mask = editor_mask(image_and_mask)
        if mask is None:
            raise gr.Error("mask: paint the area to repaint over the image (the mask is empty).", print_exception=False)
        generation = InpaintRequest(
            image=image,
            mask=mask,
            prompt=prompt or "",
            negative_prompt=negative_prompt or "",
            strength=float(strength),
            mask_blur=int(mask_blur),
            invert_mask=bool(invert_mask),
            only_masked=bool(only_masked),
            only_masked_padding=int(only_masked_padding),
            **sampling_kwargs(sampler, steps, guidance, seed, batch_size),
        )
        yield from gallery_stream(runner, generation, session_of(request), progress)

    inputs = [
        editor,
        prompt,
        negative_prompt,
        strength,
        mask_blur,
        invert_mask,
        only_masked,
        padding,
        *sampling.components(),
    ]
    outputs = gallery_outputs(result)
    wire_run(generate, cancel, runner, inpaint, inputs, outputs, view, "inpaint", GALLERY_EMPTY, ENGINE_QUEUE)
    wire_reuse_seed(result, sampling.seed)
    return InpaintTab(
        editor,
        prompt,
        negative_prompt,
        mask_blur,
        invert_mask,
        only_masked,
        padding,
        strength,
        sampling,
        result,
        send_to_inpaint,
        send_to_upscale,
    )
