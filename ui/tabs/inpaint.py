"""Inpainting tab (LDM Sec. 4.5): upload an image, paint the area to repaint, describe what should be there."""

from __future__ import annotations

import gradio as gr

from ldm_core.limits import Limits
from ldm_core.requests import InpaintRequest
from ldm_core.validation import MAX_MASK_BLUR, MAX_PADDING

from ..controls import (
    gallery_outputs,
    gallery_stream,
    named_inputs,
    request_default,
    result_panel,
    sampling_controls,
    sampling_kwargs,
    strength_slider,
)
from ..editor import editor_background, editor_mask
from ..outpainting import outpaint_controls, outpaint_sides, target_sides
from ..run_view import run_view, wire_run
from ..runner import EngineRunner, session_of
from ..words import placeholder, prompt_vocabulary, words_html
from .common import ENGINE_QUEUE, GALLERY_EMPTY, TaskTab, action_row, send_to_row, wire_reuse_seed

MASK_BRUSH = ("#ff2bd6", 0.7)  # any colour works: the mask is wherever the layer has alpha > 0


def build(runner: EngineRunner, limits: Limits) -> TaskTab:
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
                    MAX_MASK_BLUR,
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
                    MAX_PADDING,
                    value=request_default(InpaintRequest, "only_masked_padding"),
                    step=4,
                    label="Only-masked padding (px)",
                    elem_id="inpaint-padding",
                )
            outpaint = outpaint_controls(limits)
            sampling = sampling_controls("inpaint", limits, InpaintRequest)
        with gr.Column(scale=1):
            result = result_panel("inpaint")
            send_to = send_to_row("inpaint", ("img2img", "inpaint", "upscale"))  # inpainting again: a second pass

    def inpaint(
        image_and_mask: dict | None,
        prompt: str,
        negative_prompt: str,
        strength: float,
        mask_blur: float,
        invert_mask: bool,
        only_masked: bool,
        only_masked_padding: float,
        extend_left: float,
        extend_top: float,
        extend_right: float,
        extend_bottom: float,
        target_width: float | None,
        target_height: float | None,
        anchor: str,
        outpaint_feather: float,
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
        sides = outpaint_sides(extend_left, extend_top, extend_right, extend_bottom)
        sides = target_sides(image.size, target_width, target_height, anchor) or sides
        if mask is None and not any(sides.values()):
            raise gr.Error(
                "mask: paint the area to repaint over the image, or extend the picture (Outpainting).",
                print_exception=False,
            )
        generation = InpaintRequest(
            image=image,
            mask=mask,
            **sides,
            outpaint_feather=int(outpaint_feather),
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

    named = {
        "image_and_mask": editor,
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "strength": strength,
        "mask_blur": mask_blur,
        "invert_mask": invert_mask,
        "only_masked": only_masked,
        "only_masked_padding": padding,
        **outpaint,
        **sampling.inputs(),
    }
    inputs, outputs = named_inputs(inpaint, named), gallery_outputs(result)
    wire_run(generate, cancel, runner, inpaint, inputs, outputs, view, "inpaint", GALLERY_EMPTY, ENGINE_QUEUE)
    wire_reuse_seed(result, sampling.seed)
    return TaskTab(named, image_input=editor, result=result, send_to=send_to)
