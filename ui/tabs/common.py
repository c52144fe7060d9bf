"""Event wiring every generating tab shares: one engine queue, a Cancel button, seed reuse, "send to" buttons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ldm_core.registry import TASKS

from ..controls import Inputs, ResultPanel
from ..runner import EngineRunner, session_of


@dataclass
class TaskTab:
    """What a task's tab (`build(runner, limits)` in `ui/tabs/<task>.py`) gives the rest of the UI."""

    inputs: Inputs  # its run handler's inputs by parameter name (the API's names); PNG info fills them by name
    image_input: gr.components.Component | None = None  # where an image sent from another tab lands
    result: ResultPanel | None = None  # its gallery and the selected image, for its "Send to" buttons
    send_to: dict[str, gr.Button] = field(default_factory=dict)  # target task -> the button under the result


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


def send_to_row(prefix: str, targets: tuple[str, ...] = ("inpaint", "upscale")) -> dict[str, gr.Button]:
    """ "Send to <task>" buttons under a result gallery (`#<prefix>-to-<task>`), by target task."""
    with gr.Row():
        return {
            task: gr.Button(f"Send to {TASKS[task].tab_label.lower()}", size="sm", elem_id=f"{prefix}-to-{task}")
            for task in targets
        }
