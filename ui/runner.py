"""The one path from a UI handler to the engine: progress, live previews, per-session cancel, errors as `gr.Error`.

The engine runs in a worker thread so the handler (a generator) can show its latent previews while it denoises;
gradio's progress bar and toasts are driven from the handler's own thread, where gradio's request context lives.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr
from PIL import Image

from ldm_core.errors import CancelledError, StudioError
from ldm_core.requests import GenerationRequest, GenerationResult, ProgressEvent

logger = logging.getLogger(__name__)

GENERIC_ERROR = "Something went wrong inside the studio; the details are in the server log."
PREVIEW_INTERVAL_S = 0.5  # at most two preview images a second reach the browser
_DONE = object()


class EngineRunner:
    """Runs requests on the engine for UI handlers; holds no model, only one cancel event per browser session."""

    def __init__(self, engine: Any):
        self.engine = engine
        self._cancel_events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _cancel_event(self, session: str) -> threading.Event:
        with self._lock:
            return self._cancel_events.setdefault(session, threading.Event())

    def cancel(self, session: str) -> None:
        """Ask this session's running request to stop at its next denoising step."""
        self._cancel_event(session).set()

    def stream(
        self, request: GenerationRequest, session: str, progress: gr.Progress | None = None
    ) -> Iterator[Image.Image | GenerationResult]:
        """Yield latent previews while the engine denoises, then the result; failures become `gr.Error`s.

        If the caller stops iterating (the browser left), the run is cancelled at its next step.
        """
        cancel = self._cancel_event(session)
        cancel.clear()
        events: queue.Queue = queue.Queue()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["result"] = self.engine.run(request, progress=events.put, cancel=cancel)
            except BaseException as error:  # handed to the handler's thread, which maps it
                outcome["error"] = error
            finally:
                events.put(_DONE)

        worker = threading.Thread(target=work, name=f"studio-{type(request).__name__}", daemon=True)
        worker.start()
        shown_at = 0.0
        try:
            while (event := events.get()) is not _DONE:
                assert isinstance(event, ProgressEvent)
                if progress is not None:
                    progress((event.step, event.total_steps), desc="Denoising", unit="steps")
                if event.preview is not None and time.monotonic() - shown_at >= PREVIEW_INTERVAL_S:
                    shown_at = time.monotonic()
                    yield event.preview
        finally:
            if worker.is_alive():  # closed early: stop the engine rather than let it finish for nobody
                cancel.set()
        worker.join()
        cancel.clear()
        yield self._result(request, outcome)

    def run(self, request: GenerationRequest, session: str, progress: gr.Progress | None = None) -> GenerationResult:
        """Run one request to the end (previews dropped)."""
        for item in self.stream(request, session, progress):
            if isinstance(item, GenerationResult):
                return item
        raise AssertionError("stream ended without a result")

    @staticmethod
    def _result(request: GenerationRequest, outcome: dict[str, Any]) -> GenerationResult:
        """The result, its warnings shown as toasts; or the failure as a `gr.Error` a user can act on."""
        error = outcome.get("error")
        if isinstance(error, CancelledError):
            raise gr.Error(str(error) or "Cancelled.", title="Cancelled", print_exception=False) from error
        if isinstance(error, StudioError):
            raise gr.Error(str(error), print_exception=False) from error
        if isinstance(error, gr.Error):
            raise error
        if error is not None:
            logger.error("Unexpected failure while running %s", type(request).__name__, exc_info=error)
            raise gr.Error(GENERIC_ERROR, print_exception=False) from error
        result: GenerationResult = outcome["result"]
        for warning in result.warnings:
            gr.Warning(warning)
        return result


def session_of(request: gr.Request | None) -> str:
    """The browser session a handler was called from ("" for direct calls)."""
    return (request.session_hash if request is not None else None) or ""
