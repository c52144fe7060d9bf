"""What a replica streams back for one job: `JobStarted`, then `ProgressEvent`s, then `JobFinished` or `JobFailed`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ldm_core.errors import StudioError
from ldm_core.requests import GenerationResult


@dataclass(frozen=True)
class JobStarted:
    """The job reached a replica (it waited in Ray's queue until one was idle)."""

    job: str
    replica: str  # Serve's replica id
    pid: int
    node: str


@dataclass(frozen=True)
class JobFinished:
    result: GenerationResult  # nothing saved: the app's process writes the outputs
    task_status: dict[str, str | None] = field(default_factory=dict)  # the replica's, after the run
    description: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobFailed:
    error: StudioError | None  # a user-facing error, raised as is in the app; None: unexpected (see detail)
    detail: str = ""  # the replica's traceback, for the app's log
