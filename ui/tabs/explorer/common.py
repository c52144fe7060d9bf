"""What the explorer's sections share: engine errors as `gr.Error`, engine progress on gradio's bar, and the memory
of each browser session's last run per tab (so a trajectory can replay it)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from ldm_core.errors import CancelledError, StudioError
from ldm_core.requests import GenerationRequest, GenerationResult, ProgressEvent

from ...cancellation import current_token
from ...runner import GENERIC_ERROR, Caller, EngineRunner, session_of

logger = logging.getLogger(__name__)
SEED_MAX = 2**32 - 1
REMEMBERED_RUNS = 128  # (session, task) pairs kept, the least recently finished dropped first (requests hold images)


def shows_errors(handler: Callable) -> Callable:
    """Engine errors become `gr.Error` with their message; anything unexpected is logged and shown generically."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except CancelledError as error:
            raise gr.Error(str(error), title="Cancelled", print_exception=False) from error
        except StudioError as error:
            raise gr.Error(str(error), print_exception=False) from error
        except Exception as error:
            logger.exception("Unexpected failure in the explorer (%s)", handler.__name__)
            raise gr.Error(GENERIC_ERROR, print_exception=False) from error

    return wrapped


def progress_callback(progress: gr.Progress | None, what: str) -> Callable[[ProgressEvent], None] | None:
    if progress is None:
        return None

    def report(event: ProgressEvent) -> None:
        progress((event.step, event.total_steps), desc=what, unit="steps")

    return report


def run_options(request: gr.Request | None) -> dict[str, Any]:
    """What an explorer run shares with the tabs' runs: the handler's cancel token (the queue's cancel or a closed
    tab stops it at its next step) and the logged-in user whose folder its images are saved in."""
    return {"cancel": current_token(), "owner": session_of(request).user}


class LastRuns:
    """Each browser session's last finished request per task, with the seed it used (replaying it gives the same
    image). Filled by wrapping the runner's `stream` once, on the instance: every tab's run goes through it."""

    def __init__(self, capacity: int = REMEMBERED_RUNS) -> None:
        self._runs: OrderedDict[tuple[str, str], GenerationRequest] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    @classmethod
    def attach(cls, runner: EngineRunner) -> LastRuns:
        existing = getattr(runner, "_explorer_last_runs", None)
        if existing is not None:
            return existing
        runs = cls()
        stream = runner.stream

        def remembering(request: GenerationRequest, session: str | Caller, *args: Any, **kwargs: Any) -> Iterator[Any]:
            for item in stream(request, session, *args, **kwargs):
                if isinstance(item, GenerationResult):
                    runs.remember(session, item.task, request, item.seed)
                yield item

        runner.stream = remembering  # type: ignore[method-assign]
        runner._explorer_last_runs = runs  # type: ignore[attr-defined]
        return runs

    def remember(self, session: str | Caller, task: str, request: GenerationRequest, seed: int) -> None:
        session = session.session if isinstance(session, Caller) else session
        with self._lock:
            self._runs[(session, task)] = dataclasses.replace(request, seed=seed, batch_size=1)
            self._runs.move_to_end((session, task))
            while len(self._runs) > self._capacity:
                self._runs.popitem(last=False)

    def last(self, session: str | Caller, task: str) -> GenerationRequest | None:
        session = session.session if isinstance(session, Caller) else session
        with self._lock:
            return self._runs.get((session, task))
