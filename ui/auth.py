"""Login attempts slowed and locked out per client, so a shared link's password cannot be guessed at speed.

Gradio checks a login in its `/login` route and answers at once, however many tries came before (about 650 wrong
passwords a second were measured). `LoginThrottle` keeps, per client address, the recent failures:

- the first `free_failures` failures cost nothing (typos);
- after that, a client must wait `delay_s` seconds after its last failure before trying again (at most one try a second
  by default); a try that comes sooner is refused unseen, with "429 Too Many Requests" and how long to wait;
- after `lockout_failures` failures, or `lockout_attempts` tries in all (refused ones included: a client that keeps
  hammering), the client is locked out for `lockout_s` seconds;
- a success clears the client's record. Other clients are never affected: the right password works from elsewhere.

Each refusal is logged (the address and the count, never the password tried). The client address is the peer's, or,
when the peer is loopback (a local reverse proxy or the share tunnel), the last `X-Forwarded-For` entry it added.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass
class _Record:
    failures: int = 0
    refused: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after_s: float

    @property
    def retry_after(self) -> int:
        """Whole seconds for the Retry-After header (at least 1: a client may try again then)."""
        return max(1, math.ceil(self.retry_after_s))


@dataclass
class LoginThrottle:
    free_failures: int = 5
    delay_s: float = 1.0
    lockout_failures: int = 20
    lockout_attempts: int = 50
    lockout_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _records: dict[str, _Record] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    max_clients: int = 100_000  # records kept at most (oldest dropped): the table itself cannot be grown without bound

    def refusal(self, client: str) -> Refusal | None:
        """None when `client` may try a login now, else the message and how long to wait (HTTP 429, Retry-After)."""
        now = self.clock()
        with self._lock:
            record = self._records.get(client)
            if record is None:
                return None
            if record.locked_until > now:
                wait = record.locked_until - now
                return Refusal(f"Too many failed logins from your address: locked for {wait:.0f} more seconds.", wait)
            if record.failures >= self.free_failures and now - record.last_failure < self.delay_s:
                record.refused += 1
                if record.failures + record.refused >= self.lockout_attempts:
                    self._lock_out(client, record, now)
                    return Refusal(
                        f"Too many failed logins from your address: locked for {self.lockout_s:.0f} seconds.",
                        self.lockout_s,
                    )
                wait = self.delay_s - (now - record.last_failure)
                return Refusal(f"Too many failed logins: wait {wait:.1f} seconds before trying again.", wait)
        return None

    def _lock_out(self, client: str, record: _Record, now: float) -> None:
        record.locked_until = now + self.lockout_s
        logger.warning(
            "login: %d failed and %d refused attempts from %s; locked out for %.0f s",
            record.failures,
            record.refused,
            client,
            self.lockout_s,
        )

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            record = self._records.pop(client, None) or _Record()
            if record.locked_until and record.locked_until <= now:
                record = _Record()  # a lockout served: start counting again
            record.failures += 1
            record.last_failure = now
            if record.failures >= self.lockout_failures:
                self._lock_out(client, record, now)
            elif record.failures >= self.free_failures:
                logger.warning("login: %d failed attempts from %s; slowed down", record.failures, client)
            self._records[client] = record
            while len(self._records) > self.max_clients:
                del self._records[next(iter(self._records))]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._records.pop(client, None)


def client_address(scope: dict) -> str:
    """The client's address: the peer, or the last hop a loopback proxy recorded in X-Forwarded-For."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if peer in LOOPBACK:
        for name, value in scope.get("headers") or []:
            if name.lower() == b"x-forwarded-for":
                hops = [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
                if hops:
                    return hops[-1]
    return peer
