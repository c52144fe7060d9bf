"""Super-resolution x4 tab (LDM Sec. 4.4): a low-resolution image in, a before/after slider out; tiled if large."""

from __future__ import annotations

import gradio as gr
from PIL import Image

from ldm_core.infotext import PNG_KEY
from ldm_core.limits import Limits
from ldm_core.requests import UpscaleRequest
from ldm_core.validation import MAX_TILE, MAX_TILE_OVERLAP, SIZE_MULTIPLE

from ..controls import named_inputs, request_default, sampling_controls, sampling_kwargs, strength_slider
from ..run_view import run_view, wire_run
from ..runner import EngineRunner, session_of
from .common import ENGINE_QUEUE, TaskTab, action_row


def build(runner: EngineRunner, limits: Limits) -> TaskTab:
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(
                type="pil",
                image_mode="RGB",
                sources=("upload", "clipboard"),
                format="png",
                label="Low-resolution image",
                height=330,
                elem_id="upscale-input",
            )
            generate, cancel = action_row("upscale", "Upscale ×4")
            view = run_view("upscale")
            sampling = sampling_controls("upscale", limits, UpscaleRequest, guidance=False, batch=False)
            with gr.Row():
                tile_size = gr.Slider(
                    0,
                    MAX_TILE,
                    value=0,
                    step=SIZE_MULTIPLE,
                    label="Tile size (low-res px)",
                    info="0: automatic (128, or the model's native tile if larger)",
                    elem_id="upscale-tile-size",
                )
                tile_overlap = gr.Slider(
                    0,
                    MAX_TILE_OVERLAP,
                    value=request_default(UpscaleRequest, "tile_overlap"),
                    step=1,
                    label="Tile overlap (low-res px)",
                    elem_id="upscale-tile-overlap",
                )
            with gr.Row():
                strength = strength_slider(
                    "upscale",
                    UpscaleRequest,
                    "1: sample from pure noise (the paper's sampler); lower: start from the bicubic image",
                    minimum=0.05,
                )
                back_project = gr.Checkbox(
                    value=request_default(UpscaleRequest, "back_project"),
                    label="Keep the input's colours (back-projection)",
                    info="Low frequencies from the input, detail from the model",
                    elem_id="upscale-back-project",
                )
        with gr.Column(scale=1):
            comparison = gr.ImageSlider(
                label="Before (bicubic ×4) / after (LDM ×4)",
                type="pil",
                format="png",
                elem_id="upscale-slider",
                interactive=False,
            )
            seed_used = gr.Number(label="Seed used", precision=0, interactive=False, elem_id="upscale-seed-used")
            infotext = gr.Textbox(label="Parameters", lines=3, interactive=False, elem_id="upscale-infotext")

    def upscale(
        image: Image.Image | None,
        sampler: str,
        steps: float,
        seed: float,
        tile_size: float,
        tile_overlap: float,
        strength: float,
        keep_colours: bool,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio reads the default)
    ):
        if image is None:
            raise gr.Error("image: upload an image to upscale first.", print_exception=False)
        generation = UpscaleRequest(
            image=image,
            tile_size=int(tile_size) or None,
            tile_overlap=int(tile_overlap),
            strength=float(strength),
            back_project=bool(keep_colours),
            **sampling_kwargs(sampler, steps, None, seed, None),
        )
        result = runner.run(generation, session_of(request), progress)
        upscaled = result.images[0].copy()
        text = result.infotexts[0] if result.infotexts else ""
        upscaled.info[PNG_KEY] = text
        before = image.resize(upscaled.size, Image.Resampling.BICUBIC)
        return (before, upscaled), result.seed, text

    named = {
        "image": image,
        **sampling.inputs(),
        "tile_size": tile_size,
        "tile_overlap": tile_overlap,
        "strength": strength,
        "keep_colours": back_project,
    }
    outputs = [comparison, seed_used, infotext]
    inputs = named_inputs(upscale, named)
    wire_run(generate, cancel, runner, upscale, inputs, outputs, view, "upscale", (None, None, ""), ENGINE_QUEUE)
    return TaskTab(named, image_input=image)
