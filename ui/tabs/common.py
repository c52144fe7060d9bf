"""Event wiring every generating tab shares: one engine queue, a Cancel button, seed reuse, "send to" buttons."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..controls import ResultPanel
from ..runner import EngineRunner, session_of

# One engine queue for every tab. Its limit is the queue's default_concurrency_limit (gradio's default 1; the app's
# --concurrency); the engine's lock still serialises model runs whatever the limit.
ENGINE_QUEUE = {"concurrency_id": "engine", "concurrency_limit": "default"}


GALLERY_EMPTY = ([], None, "", [], 0)  # a result panel before any run: gallery, seed, parameters, infotexts, selected


def wire_cancel_api(runner: EngineRunner) -> None:
    """`/cancel`: stop the calling session's running job at its next denoising step (the browser's Cancel buttons
    do the same and also restore the previous result: see `run_view.wire_run`)."""

    def cancel(request: gr.Request) -> None:
        runner.cancel(session_of(request))

    gr.api(cancel, api_name="cancel", queue=False)


def wire_reuse_seed(panel: ResultPanel, seed_input: gr.Number) -> None:
    panel.reuse_seed.click(
        lambda seed: seed if seed is not None else -1, [panel.seed_used], [seed_input], api_visibility="private"
    )


def selected_image(gallery: list[tuple[Any, str | None]] | None, selected: int | None) -> Any:
    """The gallery image the user clicked (the first when none), as a file path; gr.Error when the gallery is empty."""
    if not gallery:
        raise gr.Error("Generate an image first: the gallery is empty.", print_exception=False)
    index = selected if isinstance(selected, int) and 0 <= selected < len(gallery) else 0
    return gallery[index][0]


def action_row(prefix: str, label: str) -> tuple[gr.Button, gr.Button]:
    """The run / Cancel pair under a tab's inputs (`#<prefix>-generate`, `#<prefix>-cancel`)."""
    with gr.Row():
        generate = gr.Button(label, variant="primary", elem_id=f"{prefix}-generate", elem_classes="studio-generate")
        cancel = gr.Button("Cancel", variant="stop", elem_id=f"{prefix}-cancel", elem_classes="studio-cancel", scale=0)
    return generate, cancel


def send_to_row(prefix: str) -> tuple[gr.Button, gr.Button]:
    """ "Send to inpainting" / "Send to super-resolution" under a result gallery."""
    with gr.Row():
        to_inpaint = gr.Button("Send to inpainting", size="sm", elem_id=f"{prefix}-to-inpaint")
        to_upscale = gr.Button("Send to super-resolution", size="sm", elem_id=f"{prefix}-to-upscale")
    return to_inpaint, to_upscale
