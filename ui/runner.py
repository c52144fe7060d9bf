"""The one path from a UI handler to the engine: progress, per-session cancellation, errors shown as `gr.Error`."""

from __future__ import annotations

import logging
import threading
from typing import Any

import gradio as gr

from ldm_core.errors import CancelledError, StudioError
from ldm_core.requests import GenerationRequest, GenerationResult, ProgressEvent

logger = logging.getLogger(__name__)

GENERIC_ERROR = "Something went wrong inside the studio; the details are in the server log."


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
        """Ask this session's running (or next queued) request to stop at its next step."""
        self._cancel_event(session).set()

    def run(self, request: GenerationRequest, session: str, progress: gr.Progress | None = None) -> GenerationResult:
        """Run one request; show its warnings as toasts; turn every failure into a `gr.Error` with a useful message."""
        cancel = self._cancel_event(session)
        cancel.clear()

        def on_progress(event: ProgressEvent) -> None:
            if progress is not None:
                progress((event.step, event.total_steps), desc="Denoising", unit="steps")

        try:
            result = self.engine.run(request, progress=on_progress, cancel=cancel)
        except CancelledError as error:
            raise gr.Error(str(error) or "Cancelled.", title="Cancelled", print_exception=False) from error
        except StudioError as error:
            raise gr.Error(str(error), print_exception=False) from error
        except gr.Error:
            raise
        except Exception as error:
            logger.exception("Unexpected failure while running %s", type(request).__name__)
            raise gr.Error(GENERIC_ERROR, print_exception=False) from error
        finally:
            cancel.clear()
        for warning in result.warnings:
            gr.Warning(warning)
        return result


def session_of(request: gr.Request | None) -> str:
    """The browser session a handler was called from ("" for direct calls)."""
    return (request.session_hash if request is not None else None) or ""
