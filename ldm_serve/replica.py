"""One engine replica: a Ray Serve deployment class that loads its models once and runs one job at a time.

The engine runs in a worker thread so the replica's event loop stays free to stream progress, answer health checks
and receive a cancel: Ray cancels the request's asyncio task, the `CancelledError` sets the engine's cancel event, and
the engine stops before its next denoising step.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from ldm_core import Engine, EngineConfig
from ldm_core.errors import StudioError
from ldm_core.requests import GenerationRequest, ProgressEvent

from .messages import JobFailed, JobFinished, JobStarted

logger = logging.getLogger(__name__)
PREVIEW_INTERVAL_S = 0.25  # previews sent at most this often (the UI shows two a second); every step's count is sent


class ReplicaUnhealthyError(RuntimeError):
    """Raised by the health check: Serve then replaces the replica (and its job's caller gets an error or a retry)."""


def _configure_logging() -> None:
    """The replica process is an entry point: studio log lines go to stderr, which Ray forwards to the app's log."""
    for name in ("ldm_core", "ldm_serve"):
        named = logging.getLogger(name)
        if not named.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            named.addHandler(handler)
            named.setLevel(logging.INFO)
            named.propagate = False


class EngineReplica:
    """Serve deploys this class `--replicas` times; `max_ongoing_requests=1` keeps one job per replica."""

    def __init__(self, config: EngineConfig, threads: int, stall_limit_s: float):
        import torch
        from ray import serve

        _configure_logging()
        torch.set_num_threads(threads)
        self.engine = Engine(replace(config, save_outputs=False))  # the app's process writes every output file
        self.replica = serve.get_replica_context().replica_id.unique_id
        self.node = socket.gethostname()
        self.stall_limit_s = stall_limit_s
        self._last_step_at: float | None = None  # monotonic time of the running job's last step; None when idle
        for task, reason in self.engine.task_status().items():
            if reason is None:
                try:
                    self.engine.load(task)
                except StudioError as error:  # shown by task_status(); the other tasks still serve
                    logger.warning("replica %s cannot load %s: %s", self.replica, task, error)
        logger.info(
            "replica %s (pid %d) ready: %s, %d torch thread(s)",
            self.replica,
            os.getpid(),
            ", ".join(self.engine.describe()["loaded"]) or "no task loaded",
            torch.get_num_threads(),
        )

    def task_status(self) -> dict[str, str | None]:
        return self.engine.task_status()

    def describe(self) -> dict[str, Any]:
        return self.engine.describe()

    def check_health(self) -> None:
        """Serve calls this every few seconds; a job without a step for `stall_limit_s` marks the replica dead."""
        last = self._last_step_at
        if last is not None and time.monotonic() - last > self.stall_limit_s:
            raise ReplicaUnhealthyError(f"replica {self.replica}: no denoising step for {self.stall_limit_s:.0f} s")

    async def generate(self, job: str, request: GenerationRequest) -> AsyncIterator[Any]:
        """Stream JobStarted, a ProgressEvent per step, then JobFinished or JobFailed; a cancel stops the next step."""
        loop = asyncio.get_running_loop()
        messages: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        state = {"step": 0, "total": 0, "preview_at": 0.0}

        def post(message: Any) -> None:
            loop.call_soon_threadsafe(messages.put_nowait, message)

        def on_progress(event: ProgressEvent) -> None:
            now = time.monotonic()
            self._last_step_at = now
            state["step"], state["total"] = event.step, event.total_steps
            if event.preview is not None:
                if now - state["preview_at"] < PREVIEW_INTERVAL_S:
                    event = replace(event, preview=None)
                else:
                    state["preview_at"] = now
            post(event)

        def work() -> None:
            try:
                result = self.engine.run(request, progress=on_progress, cancel=cancel)
                post(JobFinished(result, self.engine.task_status(), self.engine.describe()))
            except StudioError as error:
                post(JobFailed(error))
            except Exception as error:  # the engine logged it; the app logs the traceback too and shows a generic error
                post(JobFailed(None, "".join(traceback.format_exception(error))))

        yield JobStarted(job=job, replica=self.replica, pid=os.getpid(), node=self.node)
        self._last_step_at = time.monotonic()
        worker = threading.Thread(target=work, name=f"job-{job}", daemon=True)
        worker.start()
        try:
            while True:
                message = await messages.get()
                yield message
                if not isinstance(message, ProgressEvent):
                    return
        except asyncio.CancelledError:
            arrived_during = state["step"] + 1  # steps are counted from 1 here; the event for step k comes before it
            cancel.set()
            await asyncio.to_thread(worker.join)  # the replica takes no new job before this one has stopped
            logger.info(
                "job %s cancelled on replica %s: the cancel arrived during step %d of %d; the last step run was %d",
                job,
                self.replica,
                arrived_during,
                state["total"],
                state["step"] + 1,
            )
            raise
        finally:
            cancel.set()  # closed early for any other reason: do not run on for nobody
            self._last_step_at = None
