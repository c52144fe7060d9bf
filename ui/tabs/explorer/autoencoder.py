"""Explorer section 1, the autoencoder (LDM Sec. 3.1): an image's latent channels, reconstruction, PSNR, compression,
and a latent edit decoded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from ldm_core.explorer.autoencoder import EDITS, AutoencoderRequest, LatentEdit, inspect_autoencoder

from ..common import ENGINE_QUEUE
from .common import SEED_MAX, shows_errors

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "images"
EDIT_HELP = (
    "zero / scale / swap act on one channel; noise mixes the whole latent with Gaussian noise as the forward process "
    "does at timestep t (x_t = sqrt(ᾱ_t)·z + sqrt(1-ᾱ_t)·ε) and decodes it without denoising"
)


def summary_markdown(result: Any) -> str:
    lines = [
        f"**Compression:** {result.compression_text()}",
        f"**Reconstruction PSNR:** {result.psnr:.2f} dB",
    ]
    if result.edited is not None:
        lines.append(
            f"**Edit:** {result.edit_note}; PSNR of the edited decode against the input {result.edited_psnr:.2f} dB"
        )
    table = ["| channel | min | max | mean | std |", "|---|---|---|---|---|"]
    table += [
        f"| {view.index} | {view.low:+.3f} | {view.high:+.3f} | {view.mean:+.3f} | {view.std:.3f} |"
        for view in result.channels
    ]
    lines += [f"*{warning}*" for warning in result.warnings]
    return "\n\n".join(lines) + "\n\n" + "\n".join(table)


def build(engine: Any) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(type="pil", label="Image", elem_id="explorer-ae-image", height=260)
            examples = sorted(str(path) for path in EXAMPLES.glob("*.png") if "_64px" not in path.name)
            if examples:
                gr.Examples([[path] for path in examples], [image], label="Example images")
            with gr.Row():
                edit = gr.Dropdown(
                    list(EDITS), value="none", label="Latent edit", info=EDIT_HELP, elem_id="explorer-ae-edit"
                )
            with gr.Row():
                channel = gr.Number(0, precision=0, minimum=0, label="Channel", elem_id="explorer-ae-channel")
                other = gr.Number(1, precision=0, minimum=0, label="Swap with channel", elem_id="explorer-ae-other")
                factor = gr.Slider(-4, 4, value=2, step=0.1, label="Scale factor", elem_id="explorer-ae-factor")
            with gr.Row():
                timestep = gr.Slider(
                    0, 999, value=500, step=1, label="Noise timestep t", elem_id="explorer-ae-timestep"
                )
                seed = gr.Number(
                    0, precision=0, minimum=0, maximum=SEED_MAX, label="Noise seed", elem_id="explorer-ae-seed"
                )
            run = gr.Button("Encode → decode", variant="primary", elem_id="explorer-ae-run")
        with gr.Column(scale=1):
            summary = gr.Markdown(elem_id="explorer-ae-summary")
            channels = gr.Gallery(
                label="Latent channels (each stretched to its own range)",
                columns=4,
                height=230,
                object_fit="contain",
                format="png",
                elem_id="explorer-ae-channels",
                interactive=False,
            )
            with gr.Row():
                reconstruction = gr.Image(
                    label="Reconstruction", format="png", elem_id="explorer-ae-recon", interactive=False
                )
                edited = gr.Image(
                    label="Edited latent, decoded", format="png", elem_id="explorer-ae-edited", interactive=False
                )

    @shows_errors
    def explore_autoencoder(
        image: Image.Image | None,
        edit: str,
        channel: float | None,
        other: float | None,
        factor: float,
        timestep: float,
        seed: float | None,
    ) -> tuple:
        if image is None:
            raise gr.Error("image: upload an image (or pick an example) to encode", print_exception=False)
        latent_edit = LatentEdit(
            kind=edit,  # type: ignore[arg-type]
            channel=int(channel or 0),
            other=int(other or 0),
            factor=float(factor),
            timestep=int(timestep),
            seed=int(seed or 0),
        )
        result = inspect_autoencoder(engine, AutoencoderRequest(image=image, edit=latent_edit))
        gallery = [(view.picture, view.caption) for view in result.channels]
        return gallery, result.reconstruction, result.edited, summary_markdown(result)

    inputs = [image, edit, channel, other, factor, timestep, seed]
    outputs = [channels, reconstruction, edited, summary]
    run.click(explore_autoencoder, inputs, outputs, api_name="explore_autoencoder", **ENGINE_QUEUE)
