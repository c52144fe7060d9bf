"""The "Inside the model" tab: what the LDM paper describes, shown on the loaded models, one section per idea.

Each section has its own API endpoint (`explore_autoencoder`, `explore_trajectory`, ...) and runs on the engine's
queue; the core work is in `ldm_core.explorer`.
"""

from __future__ import annotations

import gradio as gr

from ldm_core.limits import Limits

from ...runner import EngineRunner
from . import attention, autoencoder, strips, trajectory
from .common import LastRuns

UNAVAILABLE = (
    "The model explorer installs hooks and attention processors on the models, so it needs the engine in this "
    "process: it is not available when the engine runs as replicas (`--serve ray`)."
)


def build(runner: EngineRunner, limits: Limits) -> None:
    """The explorer's sections as sub-tabs; the shared runner is wrapped to remember each session's last runs."""
    engine = runner.engine
    if not hasattr(engine, "inspecting"):
        gr.Markdown(UNAVAILABLE, elem_id="explorer-unavailable")
        return
    last_runs = LastRuns.attach(runner)
    gr.Markdown(
        "The ideas of *High-Resolution Image Synthesis with Latent Diffusion Models* (Rombach et al., 2022), made "
        "visible on the loaded models: the autoencoder that compresses by f, the sampler's walk from noise to image, "
        "the cross-attention that ties words to places, and what guidance and step counts trade."
    )
    with gr.Tabs(elem_id="explorer-sections"):
        with gr.Tab("Autoencoder", id="explorer-autoencoder", elem_id="explorer-autoencoder"):
            autoencoder.build(engine)
        with gr.Tab("Denoising trajectory", id="explorer-trajectory", elem_id="explorer-trajectory"):
            trajectory.build(engine, last_runs, limits)
        with gr.Tab("Cross-attention", id="explorer-attention", elem_id="explorer-attention"):
            attention.build(engine, limits)
        with gr.Tab("Guidance & steps", id="explorer-strips", elem_id="explorer-strips"):
            strips.build(engine, limits)
