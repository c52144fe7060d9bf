"""Explorer section 3, cross-attention maps (LDM Sec. 3.3; DAAM, Tang et al. 2022): where each word of the prompt
attends, averaged over heads, layers and steps, over the generated picture; pick a word to see its map."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ldm_core.explorer.attention import attention_maps
from ldm_core.limits import Limits
from ldm_core.requests import SCHEDULERS, TextToImageRequest

from ...controls import sampling_kwargs
from ..common import ENGINE_QUEUE
from .common import SEED_MAX, progress_callback, run_options, shows_errors

HELP = (
    "Each map is the softmax(QKᵀ/√d) weight a word's token receives from every latent position, averaged over the "
    "attention heads, the UNet's cross-attention layers and every denoising step, then upsampled and stretched from "
    "the word's own minimum to its maximum (DAAM, Tang et al. 2022)."
)


def pick_word(labels: list[str], overlays: list, word: str | None) -> Any:
    if not labels:
        return None
    index = labels.index(word) if word in labels else 0
    return overlays[index]


def build(engine: Any, limits: Limits) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            prompt = gr.Textbox(
                "a landscape with mountains and trees under a blue sky",
                label="Prompt",
                lines=2,
                elem_id="explorer-attn-prompt",
            )
            with gr.Row():
                sampler = gr.Dropdown(
                    list(SCHEDULERS), value="dpm++2m", label="Sampler", elem_id="explorer-attn-sampler"
                )
                steps = gr.Slider(1, limits.max_steps, value=15, step=1, label="Steps", elem_id="explorer-attn-steps")
            with gr.Row():
                guidance = gr.Slider(1, 20, value=5, step=0.5, label="Guidance scale", elem_id="explorer-attn-guidance")
                seed = gr.Number(
                    0, precision=0, minimum=-1, maximum=SEED_MAX, label="Seed", elem_id="explorer-attn-seed"
                )
            run = gr.Button("Generate and map the attention", variant="primary", elem_id="explorer-attn-run")
            gr.Markdown(HELP)
            image = gr.Image(label="Generated image", format="png", elem_id="explorer-attn-image", interactive=False)
        with gr.Column(scale=1):
            word = gr.Dropdown([], label="Word", interactive=True, elem_id="explorer-attn-word")
            overlay = gr.Image(
                label="Its attention", format="png", height=300, elem_id="explorer-attn-overlay", interactive=False
            )
            maps = gr.Gallery(
                label="Every word",
                columns=5,
                height=260,
                format="png",
                elem_id="explorer-attn-maps",
                interactive=False,
            )
    labels, overlays = gr.State([]), gr.State([])

    @shows_errors
    def explore_attention(
        prompt: str,
        sampler: str,
        steps: float,
        guidance: float,
        seed: float | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio reads the default)
    ) -> tuple:
        generation = TextToImageRequest(prompt=prompt or "", **sampling_kwargs(sampler, steps, guidance, seed, None))
        result = attention_maps(engine, generation, progress_callback(progress, "Generating"), **run_options(request))
        for warning in result.result.warnings:
            gr.Warning(warning)
        texts = [item.label for item in result.words]
        pictures = [item.overlay for item in result.words]
        chosen = next((item.label for item in result.words if item.word.known and len(item.word.text) > 3), texts[0])
        return (
            result.image,
            gr.update(choices=texts, value=chosen),
            pictures[texts.index(chosen)],
            list(zip(pictures, texts, strict=True)),
            texts,
            pictures,
        )

    inputs = [prompt, sampler, steps, guidance, seed]
    outputs = [image, word, overlay, maps, labels, overlays]
    run.click(explore_attention, inputs, outputs, api_name="explore_attention", **ENGINE_QUEUE)
    word.change(pick_word, [labels, overlays, word], [overlay], api_visibility="private", queue=False)
