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
from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from ldm_core.errors import CancelledError, StudioError
from ldm_core.requests import GenerationRequest, GenerationResult, ProgressEvent

from .cancellation import current_token

logger = logging.getLogger(__name__)

GENERIC_ERROR = "Something went wrong inside the studio; the details are in the server log."
PREVIEW_INTERVAL_S = 0.5  # at most two preview images a second reach the browser
_DONE = object()


@dataclass(frozen=True)
class Caller:
    """Who a handler runs for: the browser (or API client) session, and the logged-in user (None without logins)."""

    session: str
    user: str | None = None


class EngineRunner:
    """Runs requests on the engine for UI handlers; holds no model, only the cancel events of each session's runs."""

    def __init__(self, engine: Any):
        self.engine = engine
        self._runs: dict[str, set[threading.Event]] = {}
        self._lock = threading.Lock()
        self.on_cancel: list[Any] = []  # callables(session) run by cancel(), e.g. dropping queued jobs

    def cancel(self, session: str | Caller) -> None:
        """Stop this session's running requests at their next denoising step (and run the `on_cancel` hooks)."""
        session = session.session if isinstance(session, Caller) else session
        with self._lock:
            events = list(self._runs.get(session, ()))
        for event in events:
            event.set()
        for hook in self.on_cancel:
            hook(session)

    def _register(self, session: str, cancel: threading.Event) -> None:
        with self._lock:
            self._runs.setdefault(session, set()).add(cancel)

    def _unregister(self, session: str, cancel: threading.Event) -> None:
        with self._lock:
            runs = self._runs.get(session)
            if runs is not None:
                runs.discard(cancel)
                if not runs:
                    del self._runs[session]

    def stream(
        self, request: GenerationRequest, session: str | Caller, progress: gr.Progress | None = None
    ) -> Iterator[Image.Image | GenerationResult]:
        """Yield latent previews while the engine denoises, then the result; failures become `gr.Error`s.

        The run stops at its next step when the session cancels, when the caller stops iterating (the browser left),
        or when the handler's cancel token is set (the queue cancelled the job: see `ui.cancellation`).
        """
        caller = session if isinstance(session, Caller) else Caller(session)
        cancel = current_token() or threading.Event()
        self._register(caller.session, cancel)
        events: queue.Queue = queue.Queue()
        outcome: dict[str, Any] = {}
        owner = {"owner": caller.user} if caller.user else {}

        def work() -> None:
            try:
                outcome["result"] = self.engine.run(request, progress=events.put, cancel=cancel, **owner)
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
            self._unregister(caller.session, cancel)
        worker.join()
        yield self._result(request, outcome)

    def run(
        self, request: GenerationRequest, session: str | Caller, progress: gr.Progress | None = None
    ) -> GenerationResult:
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


def session_of(request: gr.Request | None) -> Caller:
    """The browser session a handler was called from ("" for direct calls), and its logged-in user if any."""
    if request is None:
        return Caller("")
    return Caller(request.session_hash or "", getattr(request, "username", None) or None)
