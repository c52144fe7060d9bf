"""What the explorer's sections share: engine errors as `gr.Error`, engine progress on gradio's bar, and the memory
of each browser session's last run per tab (so a trajectory can replay it)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from ldm_core.errors import CancelledError, StudioError
from ldm_core.requests import GenerationRequest, GenerationResult, ProgressEvent

from ...runner import GENERIC_ERROR, EngineRunner

logger = logging.getLogger(__name__)
SEED_MAX = 2**32 - 1


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


class LastRuns:
    """Each browser session's last finished request per task, with the seed it used (replaying it gives the same
    image). Filled by wrapping the runner's `stream` once, on the instance: every tab's run goes through it."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], GenerationRequest] = {}
        self._lock = threading.Lock()

    @classmethod
    def attach(cls, runner: EngineRunner) -> LastRuns:
        existing = getattr(runner, "_explorer_last_runs", None)
        if existing is not None:
            return existing
        runs = cls()
        stream = runner.stream

        def remembering(request: GenerationRequest, session: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
            for item in stream(request, session, *args, **kwargs):
                if isinstance(item, GenerationResult):
                    runs.remember(session, item.task, request, item.seed)
                yield item

        runner.stream = remembering  # type: ignore[method-assign]
        runner._explorer_last_runs = runs  # type: ignore[attr-defined]
        return runs

    def remember(self, session: str, task: str, request: GenerationRequest, seed: int) -> None:
        with self._lock:
            self._runs[(session, task)] = dataclasses.replace(request, seed=seed, batch_size=1)

    def last(self, session: str, task: str) -> GenerationRequest | None:
        with self._lock:
            return self._runs.get((session, task))
