"""Event wiring every generating tab shares: one engine queue, a Cancel button, seed reuse, "send to" buttons."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..controls import ResultPanel
from ..runner import EngineRunner, session_of

# One engine queue for every tab. Its limit is the queue's default_concurrency_limit (gradio's default 1; the app's
# --concurrency); the engine's lock still serialises model runs whatever the limit.
ENGINE_QUEUE = {"concurrency_id": "engine", "concurrency_limit": "default"}


def wire_cancel(button: gr.Button, runner: EngineRunner, runs: list[Any], api_name: str | None = None) -> None:
    """Cancel stops this browser session's run at its next denoising step, and drops its jobs still in the queue."""

    def cancel(request: gr.Request) -> None:
        runner.cancel(session_of(request))
        gr.Info("Cancelling at the next step…")

    visibility = "public" if api_name else "private"
    button.click(cancel, None, None, api_name=api_name, api_visibility=visibility, queue=False, cancels=runs)


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
