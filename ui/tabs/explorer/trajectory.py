"""Explorer section 2, the denoising trajectory (LDM Sec. 3.2): the current latent and the predicted x̂0 at every k-th
step of a run, on a slider, saved as an animated GIF or WebP. The run is a prompt typed here, or the last run of any
tab replayed with its seed (the same image comes out)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from ldm_core.explorer.trajectory import ANIMATION_FORMATS, record_trajectory
from ldm_core.limits import Limits
from ldm_core.registry import TASKS
from ldm_core.requests import SCHEDULERS, TextToImageRequest

from ...controls import sampling_kwargs
from ...runner import session_of
from ..common import ENGINE_QUEUE
from .common import SEED_MAX, LastRuns, progress_callback, run_options, shows_errors

SOURCES = {"prompt": "the prompt below (text-to-image)"} | {
    name: f"{spec.tab_label}: its last run" for name, spec in TASKS.items()
}


def frame_view(pictures: list, captions: list[str], index: float) -> tuple:
    if not pictures:
        return None, ""
    index = min(max(int(index), 0), len(pictures) - 1)
    return pictures[index], captions[index]


def build(engine: Any, last_runs: LastRuns, limits: Limits) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            source = gr.Dropdown(
                [(label, key) for key, label in SOURCES.items()],
                value="prompt",
                label="Run to record",
                info="a tab's last run is replayed with the seed it used: the same image comes out",
                elem_id="explorer-traj-source",
            )
            prompt = gr.Textbox(
                "mountains above a lake at sunset",
                label="Prompt",
                info="this and the settings below are used for 'the prompt below'; a tab's run keeps its own",
                elem_id="explorer-traj-prompt",
            )
            with gr.Row():
                sampler = gr.Dropdown(list(SCHEDULERS), value="ddim", label="Sampler", elem_id="explorer-traj-sampler")
                steps = gr.Slider(1, limits.max_steps, value=20, step=1, label="Steps", elem_id="explorer-traj-steps")
                guidance = gr.Slider(1, 20, value=5, step=0.5, label="Guidance scale", elem_id="explorer-traj-guidance")
            with gr.Row():
                seed = gr.Number(
                    0, precision=0, minimum=-1, maximum=SEED_MAX, label="Seed", elem_id="explorer-traj-seed"
                )
                every = gr.Slider(1, 50, value=2, step=1, label="Keep every k-th step", elem_id="explorer-traj-every")
                kind = gr.Radio(
                    list(ANIMATION_FORMATS), value="webp", label="Animation", elem_id="explorer-traj-format"
                )
            run = gr.Button("Record the trajectory", variant="primary", elem_id="explorer-traj-run")
            summary = gr.Markdown(elem_id="explorer-traj-summary")
        with gr.Column(scale=1):
            frame = gr.Image(
                label="current x_t | predicted x̂0",
                format="png",
                height=330,
                elem_id="explorer-traj-frame",
                interactive=False,
            )
            caption = gr.Markdown(elem_id="explorer-traj-caption")
            slider = gr.Slider(0, 1, value=0, step=1, label="Frame", elem_id="explorer-traj-slider")
            animation = gr.File(label="Animation", elem_id="explorer-traj-file", interactive=False)
            frames = gr.Gallery(
                label="All frames",
                columns=4,
                height=200,
                format="png",
                elem_id="explorer-traj-frames",
                interactive=False,
            )
    pictures, captions = gr.State([]), gr.State([])

    @shows_errors
    def explore_trajectory(
        source: str,
        prompt: str,
        sampler: str,
        steps: float,
        guidance: float,
        seed: float | None,
        every: float,
        kind: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio reads the default)
    ) -> tuple:
        if source == "prompt":
            generation = TextToImageRequest(
                prompt=prompt or "", **sampling_kwargs(sampler, steps, guidance, seed, None)
            )
        elif source in SOURCES:
            generation = last_runs.last(session_of(request), source)
            if generation is None:
                raise gr.Error(
                    f"Run to record: {SOURCES[source].split(':')[0]} has no run in this session yet; "
                    "generate there first",
                    print_exception=False,
                )
        else:
            raise gr.Error(
                f"Run to record: must be one of {', '.join(SOURCES)} (got {source!r})", print_exception=False
            )
        options = run_options(request)
        trajectory = record_trajectory(
            engine, generation, int(every), progress_callback(progress, "Recording"), **options
        )
        shown = [item.picture() for item in trajectory.frames]
        texts = [item.caption for item in trajectory.frames]
        folder = Path(tempfile.mkdtemp(prefix="trajectory-"))
        path = trajectory.save_animation(folder / f"trajectory_{trajectory.result.seed}.{kind}")
        lines = [
            f"**{trajectory.result.task}**, seed {trajectory.result.seed}, {trajectory.frames[-1].total_steps} steps: "
            f"{len(trajectory.frames) - 1} recorded (every {trajectory.every}) and the output.",
            "Left: the latent x_t the sampler holds, decoded. Right: the clean latent the model predicts from it, "
            "x̂0 = (x_t − sqrt(1−ᾱ_t)·ε̂) / sqrt(ᾱ_t), decoded. σ = sqrt((1−ᾱ_t)/ᾱ_t) is the noise level.",
            *[f"*{note}*" for note in trajectory.notes],
        ]
        last = len(shown) - 1
        return (
            shown[last],
            texts[last],
            gr.update(maximum=last, value=last),
            str(path),
            [(picture, text) for picture, text in zip(shown, texts, strict=True)],
            "\n\n".join(lines),
            shown,
            texts,
        )

    inputs = [source, prompt, sampler, steps, guidance, seed, every, kind]
    outputs = [frame, caption, slider, animation, frames, summary, pictures, captions]
    run.click(explore_trajectory, inputs, outputs, api_name="explore_trajectory", **ENGINE_QUEUE)
    slider.change(frame_view, [pictures, captions, slider], [frame, caption], api_visibility="private", queue=False)
