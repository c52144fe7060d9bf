"""Image-to-image tab (SDEdit): a picture in, noised to the denoising strength and redrawn with the prompt."""

from __future__ import annotations

import gradio as gr
from PIL import Image

from ldm_core.limits import Limits
from ldm_core.tasks.img2img import ImageToImageRequest

from ..controls import (
    gallery_outputs,
    gallery_stream,
    named_inputs,
    result_panel,
    sampling_controls,
    sampling_kwargs,
    strength_slider,
)
from ..run_view import run_view, wire_run
from ..runner import EngineRunner, session_of
from ..sizes import cascade_controls, cascade_kwargs
from .common import ENGINE_QUEUE, GALLERY_EMPTY, TaskTab, action_row, send_to_row, wire_reuse_seed


def build(runner: EngineRunner, limits: Limits) -> TaskTab:
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(
                type="pil",
                image_mode="RGB",
                sources=("upload", "clipboard"),
                format="png",
                label="Picture to redraw (fitted to the model's size)",
                elem_id="img2img-input",
            )
            prompt = gr.Textbox(
                value="",
                label="Prompt",
                lines=2,
                placeholder="a snowy mountain valley at sunset",
                info="(word:1.3) or (word) for more attention, [word] for less",
                elem_id="img2img-prompt",
            )
            generate, cancel = action_row("img2img", "Generate")
            view = run_view("img2img")
            negative_prompt = gr.Textbox(value="", label="Negative prompt", elem_id="img2img-negative")
            strength = strength_slider("img2img", ImageToImageRequest, "0 keeps the picture, 1 ignores it", 0.05)
            sampling = sampling_controls("img2img", limits, ImageToImageRequest)
            cascade = cascade_controls("img2img", limits, ImageToImageRequest)
        with gr.Column(scale=1):
            result = result_panel("img2img")
            send_to = send_to_row("img2img", ("img2img", "inpaint", "upscale"))

    def img2img(
        image: Image.Image | None,
        prompt: str,
        negative_prompt: str,
        strength: float,
        sampler: str,
        steps: float,
        guidance: float,
        seed: float,
        batch_size: float,
        upscale_x4: bool,
        upscale_steps: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio reads the default)
    ):
        if image is None:
            raise gr.Error("image: upload a picture to redraw first.", print_exception=False)
        generation = ImageToImageRequest(
            image=image,
            prompt=prompt or "",
            negative_prompt=negative_prompt or "",
            strength=float(strength),
            **sampling_kwargs(sampler, steps, guidance, seed, batch_size),
            **cascade_kwargs(upscale_x4, upscale_steps),
        )
        yield from gallery_stream(runner, generation, session_of(request), progress)

    named = {
        "image": image,
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "strength": strength,
        **sampling.inputs(),
        **cascade,
    }
    inputs, outputs = named_inputs(img2img, named), gallery_outputs(result)
    wire_run(generate, cancel, runner, img2img, inputs, outputs, view, "img2img", GALLERY_EMPTY, ENGINE_QUEUE)
    wire_reuse_seed(result, sampling.seed)
    return TaskTab(named, image_input=image, result=result, send_to=send_to)
