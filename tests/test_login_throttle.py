"""Login attempts are slowed, then locked out, per client; the right password still works from another client.

The end-to-end test sends 200 wrong passwords from one client as fast as it can against the studio on 127.0.0.1
(clients are told apart by the X-Forwarded-For hop a loopback proxy adds, as behind the share tunnel)."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from ui_fixtures import free_port

from ui.auth import LoginThrottle, client_address


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_free_tries_then_one_a_second_then_locked_out():
    clock = Clock()
    throttle = LoginThrottle(
        free_failures=3, delay_s=1.0, lockout_failures=6, lockout_attempts=100, lockout_s=60, clock=clock
    )
    for _ in range(3):
        assert throttle.check("a") is None
        throttle.failed("a")
    assert "wait" in throttle.check("a")  # the 4th try right away is refused unseen
    assert throttle.check("b") is None  # another client is not affected
    clock.now += 1.0
    assert throttle.check("a") is None
    for _ in range(3):
        throttle.failed("a")
        clock.now += 1.0
    assert "locked" in throttle.check("a")
    clock.now += 58.0
    assert "locked" in throttle.check("a")
    clock.now += 1.5
    assert throttle.check("a") is None  # served its lockout
    throttle.failed("a")
    assert throttle.check("a") is None  # counting starts again: the first failures are free
    throttle.succeeded("a")
    assert throttle.check("a") is None


def test_hammering_while_slowed_down_locks_out():
    clock = Clock()
    throttle = LoginThrottle(free_failures=3, lockout_attempts=10, clock=clock)
    for _ in range(3):
        throttle.failed("a")
    refusals = [throttle.check("a") for _ in range(7)]
    assert all("wait" in refusal for refusal in refusals[:-1]) and "locked" in refusals[-1]
    clock.now += throttle.lockout_s / 2
    assert "locked" in throttle.check("a")


def test_client_address_trusts_forwarded_for_only_from_loopback():
    forwarded = [(b"x-forwarded-for", b"203.0.113.9, 10.1.2.3")]
    assert client_address({"client": ("127.0.0.1", 5), "headers": forwarded}) == "10.1.2.3"
    assert client_address({"client": ("198.51.100.7", 5), "headers": forwarded}) == "198.51.100.7"


@pytest.fixture()
def studio(engine):
    from ui import build_demo

    demo = build_demo(engine)
    demo.queue()
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, auth=[("ana", "right")]
    )
    try:
        yield url, demo.login_throttle
    finally:
        demo.close()


def test_two_hundred_wrong_logins_are_slowed_then_locked(studio, caplog: pytest.LogCaptureFixture):
    url, throttle = studio
    attacker = {"X-Forwarded-For": "10.0.0.66"}
    answers: list[int] = []
    started = time.monotonic()
    with caplog.at_level(logging.INFO), httpx.Client(base_url=url, timeout=30) as http:
        for index in range(200):
            reply = http.post("login", data={"username": "ana", "password": f"guess{index}"}, headers=attacker)
            answers.append(reply.status_code)
        elapsed = time.monotonic() - started
        checked = answers.count(400)  # tries the server actually compared with the password
        assert set(answers) <= {400, 429} and answers[: throttle.free_failures] == [400] * throttle.free_failures
        # past the free tries, at most one a second was looked at, however fast they came
        assert checked <= throttle.free_failures + elapsed / throttle.delay_s + 1
        # ... and the rest were refused; the last with the lockout message
        last = http.post("login", data={"username": "ana", "password": "right"}, headers=attacker)
        assert answers[-1] == 429 and last.status_code == 429 and "locked" in last.json()["detail"]
        # the right password from another client still works
        other = http.post(
            "login", data={"username": "ana", "password": "right"}, headers={"X-Forwarded-For": "10.0.0.7"}
        )
        assert other.status_code == 200
    assert "attempts from 10.0.0.66; locked out" in caplog.text and "right" not in caplog.text.replace(
        "right password", ""
    )
    print(f"\nlogin: 200 wrong tries in {elapsed:.1f} s, {checked} checked, {answers.count(429)} refused")


def test_locked_out_only_after_enough_checked_failures(studio):
    """Lockout needs `lockout_failures` real (checked) failures: a patient guesser at one try a second gets there."""
    url, throttle = studio
    throttle.delay_s = 0.0  # the spacing is covered above; here only the count matters
    with httpx.Client(base_url=url, timeout=30) as http:
        headers = {"X-Forwarded-For": "10.0.0.99"}
        codes = [
            http.post("login", data={"username": "ana", "password": "no"}, headers=headers).status_code
            for _ in range(throttle.lockout_failures + 1)
        ]
    assert codes[: throttle.lockout_failures] == [400] * throttle.lockout_failures and codes[-1] == 429
