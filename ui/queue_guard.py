"""Fair use of gradio's queue: a per-user cap on engine jobs; Cancel always accepted and drops queued jobs.

Gradio's queue has one global `max_size` and no notion of who submitted what, so one client's burst could fill it and
starve everyone else, and a full queue also refused `/cancel` (which goes through the same queue). The guard swaps
the queue's class for a subclass (same object, same state) whose `push`:

- accepts events that never run on the engine (`queue=False` ones such as Cancel) even when the queue is full;
- refuses an engine job when its user (login name, else the client address) already has `per_user` engine jobs
  waiting or running, with a message that says so.

`drop_session(session)` removes a session's engine jobs still waiting in the queue, telling each client "Cancelled";
`cancel_event(event_id, user)` stops one job by its id; `cancel_unjoined` refuses a job cancelled before it arrived.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import gradio as gr
from gradio import queueing, route_utils
from gradio.server_messages import ProcessCompletedMessage
from gradio.utils import error_payload

logger = logging.getLogger(__name__)

DEFAULT_PER_USER = 4
CANCELLED_QUEUED = "Cancelled before it started; nothing was run or saved."
UNJOINED_CANCEL_S = 10.0  # a cancel for a job not yet submitted holds this long for its submission


def user_key(username: str | None, request: Any) -> str:
    """Whom a job counts against: the login name, else the client's address (all of one browser's tabs together)."""
    if username:
        return f"user:{username}"
    client = getattr(request, "client", None)
    host = getattr(client, "host", None)
    return f"addr:{host}" if host else "addr:unknown"


class GuardedQueue(queueing.Queue):
    """gradio's Queue with the studio's admission rules (installed by `install_queue_guard`)."""

    guard_concurrency_id: str = "engine"
    guard_per_user: int = DEFAULT_PER_USER
    _skip_size_check: bool = False
    _guard_loop: asyncio.AbstractEventLoop | None = None
    _unjoined: dict[tuple[str, int], float] | None = None

    def __len__(self) -> int:
        if self._skip_size_check:  # read once, by the base push's max_size check, for an exempt event
            self._skip_size_check = False
            return 0
        return super().__len__()

    def _engine_jobs_of(self, key: str) -> int:
        waiting = self.event_queue_per_concurrency_id.get(self.guard_concurrency_id)
        events = list(waiting.queue) if waiting is not None else []
        events += [event for job in self.active_jobs if job for event in job]
        return sum(
            1
            for event in events
            if event.concurrency_id == self.guard_concurrency_id
            and event.alive
            and user_key(event.username, event.request) == key
        )

    async def push(self, body: Any, request: Any, username: str | None) -> tuple[bool, Any, str]:
        self._guard_loop = asyncio.get_running_loop()
        cancelled_at = (self._unjoined or {}).pop((body.session_hash, body.fn_index), None)
        if cancelled_at is not None and time.monotonic() - cancelled_at < UNJOINED_CANCEL_S:
            return False, CANCELLED_QUEUED, "error"  # its client cancelled it before this submission arrived
        try:
            fn = route_utils.get_fn(self.blocks, None, body)
        except Exception:  # an unknown fn_index: the base push answers it
            return await super().push(body, request, username)
        if fn.concurrency_id == self.guard_concurrency_id:
            key = user_key(username, request)
            if self._engine_jobs_of(key) >= self.guard_per_user:
                logger.info("refused a job from %s: %d jobs already queued or running", key, self.guard_per_user)
                return (
                    False,
                    f"You already have {self.guard_per_user} jobs queued or running (the most per user); wait for "
                    "one to finish, or cancel one, then try again.",
                    "queue_full",
                )
        elif not fn.queue:
            self._skip_size_check = self.max_size is not None  # Cancel and other instant events: never "full"
        try:
            return await super().push(body, request, username)
        finally:
            self._skip_size_check = False

    def _has_jobs(self, session: str, fn_index: int) -> bool:
        """Whether `session` has a job of `fn_index` waiting or running here."""
        return any(
            event.session_hash == session and event.fn._id == fn_index for event in self.event_ids_to_events.values()
        )

    async def cancel_unjoined(self, session: str, fn_index: int) -> None:
        """A cancel that names no event: its client had no answer to the job's submission yet.

        When the session has no job of `fn_index` here, the submission has not arrived: it is refused when it does.
        Otherwise it may have arrived, or the job here may be an earlier one: nothing is guessed, since the client
        names the job (`/reset`, see `cancel_event`) as soon as the answer to its submission reaches it."""
        if self._has_jobs(session, fn_index):
            return
        now = time.monotonic()
        self._unjoined = {key: at for key, at in (self._unjoined or {}).items() if now - at < UNJOINED_CANCEL_S}
        self._unjoined[(session, fn_index)] = now

    async def cancel_event(self, event_id: str, username: str | None) -> bool:
        """Stop one job by its id, for its own user: dropped while it waits, its task cancelled while it runs (the
        handler's cancel token then stops the engine). Returns whether there was such a job."""
        event = self.event_ids_to_events.get(event_id)
        if event is None or (event.username or None) != (username or None):
            return False
        self._unjoined = {k: at for k, at in (self._unjoined or {}).items() if k != (event.session_hash, event.fn._id)}
        if await self._drop(event.session_hash, event_id=event_id, concurrency_id=None):
            return True
        tasks = [task for task in asyncio.all_tasks() if task.get_name().endswith(f"<gradio-sep>{event_id}")]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if tasks:
            logger.info("cancelled a running job by its id")
        return bool(tasks)

    async def _drop(self, session: str, event_id: str | None = None, concurrency_id: str | None = "engine") -> int:
        """Remove `session`'s waiting jobs (of one concurrency group, or all; only `event_id` if given)."""
        queues = [
            waiting
            for key, waiting in self.event_queue_per_concurrency_id.items()
            if concurrency_id is None or key == concurrency_id
        ]
        dropped = [
            event
            for waiting in queues
            for event in list(waiting.queue)
            if event.session_hash == session and (event_id is None or event._id == event_id)
        ]
        for event in dropped:
            await self.remove_from_queue(event._id)
            content = error_payload(gr.Error(CANCELLED_QUEUED, title="Cancelled"), False)
            self.send_message(event, ProcessCompletedMessage(output=content, title="Cancelled", success=False))
            self.pending_event_ids_session.get(session, set()).discard(event._id)
        return len(dropped)

    def drop_session(self, session: str) -> int:
        """Remove `session`'s engine jobs still waiting (from any thread); returns how many were dropped."""
        loop = self._guard_loop
        if loop is None or not session:
            return 0
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # called from the event loop itself: schedule, do not block it
            loop.create_task(self._drop(session))
            return 0
        dropped = asyncio.run_coroutine_threadsafe(self._drop(session), loop).result(timeout=10)
        if dropped:
            logger.info("cancel dropped %d queued job(s) of one session", dropped)
        return dropped


def install_queue_guard(blocks: gr.Blocks, per_user: int | None = None) -> GuardedQueue:
    """Give `blocks`' current queue the guard's rules (idempotent); `per_user` is kept for later queues too."""
    if per_user is not None:
        blocks.studio_jobs_per_user = per_user  # type: ignore[attr-defined]
    queue = blocks._queue
    if not isinstance(queue, GuardedQueue):
        queue.__class__ = GuardedQueue
    queue.guard_per_user = getattr(blocks, "studio_jobs_per_user", DEFAULT_PER_USER)
    return queue  # type: ignore[return-value]


def guard_queue(blocks: gr.Blocks, runner: Any = None) -> None:
    """Guard `blocks`' queue now and whenever `blocks.queue(...)` makes a new one; `runner.cancel` drops queued jobs."""
    install_queue_guard(blocks)
    original = blocks.queue

    def queue(*args: Any, **kwargs: Any) -> gr.Blocks:
        result = original(*args, **kwargs)
        install_queue_guard(blocks)
        return result

    blocks.queue = queue  # type: ignore[method-assign]
    if runner is not None:
        runner.on_cancel.append(lambda session: install_queue_guard(blocks).drop_session(session))
