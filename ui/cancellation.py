"""Any cancel stops the engine: the Cancel button, the queue's cancel (gradio_client `job.cancel()`), a closed tab.

Gradio cancels a job by cancelling its asyncio task, which a handler running in a worker thread never sees: the run
went on to the end and was saved, and the freed queue slot let the next job in beside it. So every engine handler is
wrapped (after the UI is built) in an async shell that runs the handler in a thread and owns a cancel token:

- the task is cancelled (queue cancel, `cancels=`) -> the token is set at once;
- the shell is closed before the handler finished (gradio resets the iterator) -> the token is set;
- the client disconnected (gradio marks the queued event dead) -> noticed within `LIVENESS_POLL_S`, the token is set.

The runner reads the token (`current_token()`) and hands it to the engine as its cancel event, so the engine stops
before its next denoising step and saves nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

import anyio
import gradio as gr
from gradio.context import LocalContext

LIVENESS_POLL_S = 0.25
WRAPPED = "_studio_cancellable"
_token: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("studio_cancel_token", default=None)
_STOP = object()


def current_token() -> threading.Event | None:
    """The cancel token of the handler call this thread runs for (None outside a wrapped handler)."""
    return _token.get()


def _event_alive() -> Callable[[], bool]:
    """A check that gradio still has a live client for the current event (True when it cannot tell)."""
    blocks, event_id = LocalContext.blocks.get(None), LocalContext.event_id.get(None)
    queue = getattr(blocks, "_queue", None)
    if queue is None or event_id is None:
        return lambda: True

    def alive() -> bool:
        event = queue.event_ids_to_events.get(event_id)
        return event is None or event.alive

    return alive


async def _in_thread(token: threading.Event, alive: Callable[[], bool], call: Callable[[], Any]) -> Any:
    """Run `call` in a worker thread with the token set in its context; on cancel or disconnect, set the token."""
    context = contextvars.copy_context()
    context.run(_token.set, token)
    work = asyncio.ensure_future(anyio.to_thread.run_sync(context.run, call, abandon_on_cancel=True))
    try:
        while True:
            done, _ = await asyncio.wait({work}, timeout=LIVENESS_POLL_S)
            if done:
                return work.result()
            if not alive():
                token.set()  # the client left: stop the engine; the run ends at its next step with CancelledError
    except BaseException:
        token.set()
        work.cancel()
        raise


def cancellable(fn: Callable) -> Callable:
    """`fn` (a handler: plain function or generator) as an async handler whose any cancel reaches the engine."""
    if getattr(fn, WRAPPED, False):
        return fn
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        async def generator_shell(*args: Any, **kwargs: Any):
            token, alive = threading.Event(), _event_alive()
            iterator = None

            def step() -> Any:
                nonlocal iterator
                if iterator is None:
                    iterator = fn(*args, **kwargs)
                return next(iterator, _STOP)

            finished = False
            try:
                while (item := await _in_thread(token, alive, step)) is not _STOP:
                    yield item
                finished = True
            finally:
                if not finished:
                    token.set()

        shell = generator_shell
    elif inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return fn  # already runs in the event loop: gradio's cancel reaches it
    else:

        @functools.wraps(fn)
        async def function_shell(*args: Any, **kwargs: Any) -> Any:
            return await _in_thread(threading.Event(), _event_alive(), functools.partial(fn, *args, **kwargs))

        shell = function_shell
    setattr(shell, WRAPPED, True)
    return shell


def make_cancellable(blocks: gr.Blocks, concurrency_id: str) -> int:
    """Wrap every event handler of one concurrency group (the engine queue); returns how many were wrapped."""
    wrapped = 0
    for block_fn in blocks.fns.values():
        if block_fn.concurrency_id == concurrency_id and block_fn.fn is not None:
            if not getattr(block_fn.fn, WRAPPED, False):
                block_fn.fn = cancellable(block_fn.fn)
                wrapped += 1
    return wrapped
