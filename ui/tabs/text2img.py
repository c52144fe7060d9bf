"""Text-to-image tab (LDM Sec. 4.3.1): prompt, sampler settings, size; a gallery with each image's parameters."""

from __future__ import annotations

import gradio as gr

from ldm_core.limits import Limits
from ldm_core.requests import TextToImageRequest

from ..controls import gallery_outputs, gallery_stream, named_inputs, result_panel, sampling_controls, sampling_kwargs
from ..run_view import run_view, wire_run
from ..runner import EngineRunner, session_of
from ..sizes import cascade_controls, cascade_kwargs, text_size_controls, text_size_kwargs
from ..words import placeholder, prompt_vocabulary, words_html
from .common import ENGINE_QUEUE, GALLERY_EMPTY, TaskTab, action_row, send_to_row, wire_reuse_seed


def build(runner: EngineRunner, limits: Limits) -> TaskTab:
    with gr.Row():
        with gr.Column(scale=1):
            words = prompt_vocabulary(runner.engine)
            prompt = gr.Textbox(
                value="",
                label="Prompt",
                lines=2,
                placeholder=placeholder(words),
                info="(word:1.3) or (word) for more attention, [word] for less; any length",
                elem_id="txt2img-prompt",
            )
            generate, cancel = action_row("txt2img", "Generate")
            view = run_view("txt2img")
            if words:
                gr.HTML(words_html("txt2img-prompt", words), elem_id="txt2img-words")
            negative_prompt = gr.Textbox(value="", label="Negative prompt", lines=1, elem_id="txt2img-negative")
            sampling = sampling_controls("txt2img", limits, TextToImageRequest)
            native = getattr(runner.engine, "native_size", lambda task: None)("text2img")
            size = text_size_controls(limits, native)
            cascade = cascade_controls("txt2img", limits, TextToImageRequest)
        with gr.Column(scale=1):
            result = result_panel("txt2img")
            send_to = send_to_row("txt2img", ("img2img", "inpaint", "upscale"))

    def text2img(
        prompt: str,
        negative_prompt: str,
        sampler: str,
        steps: float,
        guidance: float,
        seed: float,
        batch_size: float,
        size: str,
        width: float | None,
        height: float | None,
        upscale_x4: bool,
        upscale_steps: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio reads the default)
    ):
        generation = TextToImageRequest(
            prompt=prompt or "",
            negative_prompt=negative_prompt or "",
            **text_size_kwargs(size, width, height),
            **sampling_kwargs(sampler, steps, guidance, seed, batch_size),
            **cascade_kwargs(upscale_x4, upscale_steps),
        )
        yield from gallery_stream(runner, generation, session_of(request), progress)

    named = {"prompt": prompt, "negative_prompt": negative_prompt, **sampling.inputs(), **size, **cascade}
    inputs = named_inputs(text2img, named)
    outputs = gallery_outputs(result)
    wire_run(generate, cancel, runner, text2img, inputs, outputs, view, "text2img", GALLERY_EMPTY, ENGINE_QUEUE)
    wire_reuse_seed(result, sampling.seed)
    return TaskTab(named, result=result, send_to=send_to)
