"""Semantic map -> image tab (LDM Sec. 4.3.2): paint ADE20K classes on a canvas, or upload or pick a colour map."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from PIL import Image

from ldm_core.limits import Limits
from ldm_core.palette import CLASS_ID, PALETTE
from ldm_core.requests import SemanticMapRequest
from ldm_core.validation import image_file_error, upright, working_size

from ..controls import gallery_outputs, gallery_stream, named_inputs, result_panel, sampling_controls, sampling_kwargs
from ..editor import editor_composite, filled_canvas, palette_hex, palette_legend_html
from ..run_view import run_view, wire_run
from ..runner import EngineRunner, session_of
from ..sizes import (
    SEMANTIC_CASCADE_INFO,
    cascade_controls,
    cascade_kwargs,
    semantic_size_control,
    semantic_size_value,
)
from .common import ENGINE_QUEUE, GALLERY_EMPTY, TaskTab, action_row, send_to_row, wire_reuse_seed

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "semantic"
CANVAS_SIZE = (256, 256)
FILL_CLASS = "sky"  # what unpainted (or erased) canvas means
BRUSH_SIZE = 16


def build(runner: EngineRunner, limits: Limits) -> TaskTab:
    colors = palette_hex()
    with gr.Row():
        with gr.Column(scale=1):
            gr.HTML(palette_legend_html("semantic-editor", BRUSH_SIZE), elem_id="semantic-legend")
            editor = gr.ImageEditor(
                value=filled_canvas(CANVAS_SIZE, FILL_CLASS),
                type="pil",
                image_mode="RGBA",
                sources=("upload", "clipboard"),
                brush=gr.Brush(
                    colors=colors, default_color=colors[CLASS_ID["tree"]], color_mode="fixed", default_size=BRUSH_SIZE
                ),
                layers=False,
                canvas_size=CANVAS_SIZE,
                transforms=(),
                format="png",
                label="Semantic map: pick a class above, paint; or upload an ADE20K colour map",
                height=330,
                elem_id="semantic-editor",
            )
            generate, cancel = action_row("semantic", "Generate")
            view = run_view("semantic")
            with gr.Row():
                upload = gr.UploadButton(
                    "Upload a colour map", file_types=["image"], size="sm", elem_id="semantic-upload"
                )
                blank = gr.Button("Blank (sky) canvas", size="sm", elem_id="semantic-blank")
            source = gr.Markdown("", elem_id="semantic-map-source")
            example_map = gr.Image(type="filepath", visible=False, elem_id="semantic-example-map")
            example_slot = gr.Column()
            prompt = gr.Textbox(
                value="",
                label="Prompt",
                info="Used by the sd15 preset's ControlNet (seg). The built-in model is conditioned on the map alone.",
                elem_id="semantic-prompt",
            )
            negative_prompt = gr.Textbox(value="", label="Negative prompt", elem_id="semantic-negative")
            sampling = sampling_controls("semantic", limits, SemanticMapRequest)
            output_size = semantic_size_control(limits)
            cascade = cascade_controls("semantic", limits, SemanticMapRequest, False, SEMANTIC_CASCADE_INFO)
        with gr.Column(scale=1):
            result = result_panel("semantic")
            send_to = send_to_row("semantic", ("img2img", "inpaint", "upscale"))

    def semantic(
        semantic_map: dict | None,
        prompt: str,
        negative_prompt: str,
        sampler: str,
        steps: float,
        guidance: float,
        seed: float,
        batch_size: float,
        output_size: str,
        upscale_x4: bool,
        upscale_steps: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio reads the default)
    ):
        fill = tuple(int(v) for v in PALETTE[CLASS_ID[FILL_CLASS]])
        color_map = editor_composite(semantic_map, fill)
        if color_map is None:
            raise gr.Error("Paint a semantic map or upload one first.", print_exception=False)
        generation = SemanticMapRequest(
            color_map=color_map,
            prompt=prompt or "",
            negative_prompt=negative_prompt or "",
            output_size=semantic_size_value(output_size),
            **sampling_kwargs(sampler, steps, guidance, seed, batch_size),
            **cascade_kwargs(upscale_x4, upscale_steps),
        )
        yield from gallery_stream(runner, generation, session_of(request), progress)

    def load_map(path: str) -> tuple[Image.Image, str]:
        try:
            with Image.open(path) as image:
                color_map = working_size(upright(image).convert("RGB"))
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise gr.Error(str(image_file_error("color_map", error, limits)), print_exception=False) from error
        return color_map, f"Loaded {Path(path).name} ({color_map.width}×{color_map.height})"

    def blank_canvas() -> tuple[Image.Image, str]:
        return filled_canvas(CANVAS_SIZE, FILL_CLASS), f"Blank canvas ({FILL_CLASS})"

    examples = sorted(str(p) for p in EXAMPLES_DIR.glob("*.png"))
    if examples:  # the editor cannot be an Examples target itself: a hidden image feeds the same loader as upload
        with example_slot:
            gr.Examples(
                examples,
                inputs=[example_map],
                outputs=[editor, source],
                fn=load_map,
                run_on_click=True,
                cache_examples=False,
                label="Ready-made maps",
                elem_id="semantic-examples",
            )
    upload.upload(load_map, [upload], [editor, source], api_visibility="private")
    blank.click(blank_canvas, None, [editor, source], api_visibility="private")
    editor.clear(blank_canvas, None, [editor, source], api_visibility="private")  # the trash icon: back to sky
    named = {"semantic_map": editor, "prompt": prompt, "negative_prompt": negative_prompt, **sampling.inputs()}
    named |= {**output_size, **cascade}
    inputs, outputs = named_inputs(semantic, named), gallery_outputs(result)
    wire_run(generate, cancel, runner, semantic, inputs, outputs, view, "semantic", GALLERY_EMPTY, ENGINE_QUEUE)
    wire_reuse_seed(result, sampling.seed)
    return TaskTab(named, result=result, send_to=send_to)
