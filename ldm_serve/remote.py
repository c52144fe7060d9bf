"""`RemoteEngine`: the engine's interface (run, task_status, describe, config) over a deployment of engine replicas.

The UI's runner calls `run(request, progress, cancel)` from a worker thread exactly as it calls the in-process
engine. The job goes to an idle replica (Ray queues it until one is); its steps stream back as ProgressEvents; a set
`cancel` event cancels the Ray request, which stops the replica's engine at its next step; the images come back and
are saved here, by the app's process, so a replica that dies can never leave a half-written file.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import uuid
from dataclasses import replace
from typing import Any

from ray.exceptions import RayActorError, TaskCancelledError, WorkerCrashedError
from ray.serve.exceptions import DeploymentUnavailableError, ReplicaUnavailableError, RequestCancelledError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from ldm_core import EngineConfig
from ldm_core.errors import CancelledError, StudioError
from ldm_core.outputs import save_images
from ldm_core.progress import ProgressCallback
from ldm_core.requests import GenerationRequest, GenerationResult, ProgressEvent
from ldm_core.validation import batch_seeds

from .messages import JobFailed, JobFinished, JobStarted

logger = logging.getLogger(__name__)
CANCEL_POLL_S = 0.02  # how often a running job's cancel event is looked at
RETRIES = 1  # a job whose replica died runs once more on another one
CANCELLED = "Cancelled by the user; nothing was saved."
_CANCELLED_ERRORS = (RequestCancelledError, TaskCancelledError, concurrent.futures.CancelledError)
_REPLICA_DIED_ERRORS = (RayActorError, ReplicaUnavailableError, WorkerCrashedError)


class ReplicaLostError(StudioError):
    """The replica running the job died (and the retry did too); the other replicas keep serving."""


class _ReplicaDied(Exception):
    def __init__(self, replica: str | None, error: BaseException):
        super().__init__(f"replica {replica or '(not yet started)'} died: {type(error).__name__}")
        self.replica = replica


class RemoteEngine:
    """Holds a handle to the engine deployment; no model. `close` is called once the app stops."""

    def __init__(self, handle: DeploymentHandle, config: EngineConfig, serving: str, on_close: Any = None):
        self.config = config  # the app's side: limits for the UI, outputs folder and saving
        self.serving = serving  # one line for the status bar, e.g. "Ray Serve, 2 replicas x 1 CPU"
        self._stream = handle.options(stream=True)
        self._on_close = on_close
        self._task_status: dict[str, str | None] = handle.task_status.remote().result()
        self._description: dict[str, Any] = handle.describe.remote().result()

    # --- status: a snapshot from a replica, refreshed by every finished job (asking would queue behind jobs) ------

    def task_status(self) -> dict[str, str | None]:
        return dict(self._task_status)

    def describe(self) -> dict[str, Any]:
        return {**self._description, "serving": self.serving}

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    # --- running -------------------------------------------------------------------------------------------------

    def run(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        owner: str | None = None,
    ) -> GenerationResult:
        """As `Engine.run`: the result (saved here, in `owner`'s folder with logins), or a StudioError; a replica lost
        mid-run is retried once."""
        job = uuid.uuid4().hex[:12]
        cancel = cancel or threading.Event()
        notes: list[str] = []
        started = time.perf_counter()
        for attempt in range(RETRIES + 1):
            try:
                finished = self._run_once(job, request, progress, cancel)
                break
            except _ReplicaDied as died:
                if cancel.is_set():
                    raise CancelledError(CANCELLED) from died
                logger.warning("job %s (%s): %s (attempt %d)", job, type(request).__name__, died, attempt + 1)
                if attempt == RETRIES:
                    raise ReplicaLostError(
                        "The engine process running this job stopped unexpectedly, twice. The other replicas keep "
                        "serving and a new one is starting: please run it again."
                    ) from died
                notes.append("An engine replica stopped while running this job; it was run again on another one.")
        self._task_status, self._description = finished.task_status, finished.description
        if cancel.is_set():  # cancelled while the images came back: the user no longer wants them
            raise CancelledError(CANCELLED)
        result = finished.result
        saved, warnings = [], list(result.warnings) + notes
        if self.config.save_outputs:
            seeds = batch_seeds(result.seed, len(result.images))
            saved, save_warnings = save_images(
                self.config.outputs_dir, result.task, result.images, seeds, result.infotexts, user=owner
            )
            warnings += save_warnings
        timings = {**result.timings, "total": time.perf_counter() - started}
        return replace(result, saved_paths=saved, warnings=warnings, timings=timings)

    def _run_once(
        self, job: str, request: GenerationRequest, progress: ProgressCallback | None, cancel: threading.Event
    ) -> JobFinished:
        stream: DeploymentResponseGenerator = self._stream.generate.remote(job, request)
        done = threading.Event()
        watcher = threading.Thread(target=_cancel_when_asked, args=(stream, cancel, done, job), daemon=True)
        watcher.start()
        replica, step = None, 0
        try:
            for message in stream:
                if isinstance(message, ProgressEvent):
                    step = message.step
                    if progress is not None:
                        progress(message)
                elif isinstance(message, JobStarted):
                    replica = message.replica
                    logger.info(
                        "job %s (%s) started on replica %s (pid %d, %s)",
                        job,
                        type(request).__name__,
                        replica,
                        message.pid,
                        message.node,
                    )
                elif isinstance(message, JobFinished):
                    logger.info("job %s done on replica %s", job, replica)
                    return message
                elif isinstance(message, JobFailed):
                    if message.error is not None:
                        raise message.error
                    logger.error("job %s failed on replica %s:\n%s", job, replica, message.detail)
                    raise RuntimeError(f"job {job} failed on replica {replica}")
            raise RuntimeError(f"job {job}: the replica's stream ended without a result")
        except _CANCELLED_ERRORS as error:
            logger.info("job %s cancelled (replica %s, during step %d)", job, replica, step + 1)
            raise CancelledError(CANCELLED) from error
        except _REPLICA_DIED_ERRORS as error:
            raise _ReplicaDied(replica, error) from error
        except DeploymentUnavailableError as error:
            logger.error("job %s: the engine deployment is unavailable: %s", job, error.message)
            raise ReplicaLostError(
                "The engine replicas are not available (they failed to start); the details are in the server log."
            ) from error
        finally:
            done.set()


def _cancel_when_asked(
    stream: DeploymentResponseGenerator, cancel: threading.Event, done: threading.Event, job: str
) -> None:
    """Watch one job's cancel event: when set, cancel the Ray request (queued: dropped; running: stopped)."""
    while not done.is_set():
        if cancel.wait(CANCEL_POLL_S):
            if not done.is_set():
                logger.info("job %s: cancel asked", job)
                stream.cancel()
            return
