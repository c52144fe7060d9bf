"""Explorer section 4, guidance and steps strips (LDM Sec. 4.1 and 4.3): one seed across guidance scales, and across
step counts for each sampler, with the seconds each image took."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ldm_core.explorer.strips import DEFAULT_SCALES, DEFAULT_STEPS, make_strips, parse_values
from ldm_core.limits import Limits
from ldm_core.requests import SCHEDULERS, TextToImageRequest

from ...controls import sampling_kwargs
from ..common import ENGINE_QUEUE
from .common import SEED_MAX, run_options, shows_errors


def table_markdown(strips: Any) -> str:
    """Seconds per image: one table for the guidance strip, one (sampler × step count) for the steps strips."""
    parts = [f"Seed {strips.seed} for every image; seconds each image took to generate."]
    if strips.guidance:
        cells = strips.guidance.cells
        parts.append(
            "\n".join(
                [
                    "| guidance scale | " + " | ".join(f"{cell.value:g}" for cell in cells) + " |",
                    "|---|" + "---|" * len(cells),
                    f"| seconds ({strips.guidance.title.split('(')[1].rstrip(')')}) | "
                    + " | ".join(f"{cell.seconds:.2f}" for cell in cells)
                    + " |",
                ]
            )
        )
    if strips.steps:
        counts = [cell.value for cell in strips.steps[0].cells]
        rows = [
            "| sampler \\ steps | " + " | ".join(f"{int(n)}" for n in counts) + " |",
            "|---|" + "---|" * len(counts),
        ]
        rows += [
            f"| {strip.title} | " + " | ".join(f"{cell.seconds:.2f}" for cell in strip.cells) + " |"
            for strip in strips.steps
        ]
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def build(engine: Any, limits: Limits) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            prompt = gr.Textbox(
                "snowy mountains above a lake at sunset", label="Prompt", lines=2, elem_id="explorer-strips-prompt"
            )
            seed = gr.Number(0, precision=0, minimum=-1, maximum=SEED_MAX, label="Seed", elem_id="explorer-strips-seed")
            scales = gr.Textbox(
                ", ".join(f"{s:g}" for s in DEFAULT_SCALES),
                label="Guidance scales",
                info="one image each (1 = no guidance)",
                elem_id="explorer-strips-scales",
            )
            with gr.Row():
                sampler = gr.Dropdown(
                    list(SCHEDULERS),
                    value="dpm++2m",
                    label="Sampler (guidance strip)",
                    elem_id="explorer-strips-sampler",
                )
                steps = gr.Slider(
                    1,
                    limits.max_steps,
                    value=15,
                    step=1,
                    label="Steps (guidance strip)",
                    elem_id="explorer-strips-steps",
                )
            step_counts = gr.Textbox(
                ", ".join(str(s) for s in DEFAULT_STEPS),
                label="Step counts",
                info="one image each, for every sampler below",
                elem_id="explorer-strips-counts",
            )
            with gr.Row():
                samplers = gr.CheckboxGroup(
                    list(SCHEDULERS), value=list(SCHEDULERS), label="Samplers", elem_id="explorer-strips-samplers"
                )
                guidance = gr.Slider(
                    1, 20, value=5, step=0.5, label="Guidance (steps strips)", elem_id="explorer-strips-guidance"
                )
            run = gr.Button("Make the strips", variant="primary", elem_id="explorer-strips-run")
            table = gr.Markdown(elem_id="explorer-strips-table")
        with gr.Column(scale=2):
            picture = gr.Image(label="Strips", format="png", elem_id="explorer-strips-image", interactive=False)

    @shows_errors
    def explore_strips(
        prompt: str,
        seed: float | None,
        scales: str,
        sampler: str,
        steps: float,
        step_counts: str,
        samplers: list[str],
        guidance: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio reads the default)
    ) -> tuple:
        generation = TextToImageRequest(prompt=prompt or "", **sampling_kwargs(sampler, steps, guidance, seed, None))
        strips = make_strips(
            engine,
            generation,
            scales=parse_values("guidance scales", scales or ""),
            steps=parse_values("step counts", step_counts or ""),
            samplers=samplers or [],
            progress=lambda done, total: progress((done, total), desc="Images", unit="images"),
            **run_options(request),
        )
        return strips.picture(), table_markdown(strips)

    inputs = [prompt, seed, scales, sampler, steps, step_counts, samplers, guidance]
    run.click(explore_strips, inputs, [picture, table], api_name="explore_strips", **ENGINE_QUEUE)
