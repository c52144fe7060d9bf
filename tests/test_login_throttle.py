"""Login attempts are slowed, then locked out, per client; the right password still works from another client.

The end-to-end test sends 200 wrong passwords from one client as fast as it can against the studio on 127.0.0.1
(clients are told apart by the X-Forwarded-For hop a loopback proxy adds, as behind the share tunnel)."""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

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
        assert throttle.refusal("a") is None
        throttle.failed("a")
    assert "wait" in throttle.refusal("a").message  # the 4th try right away is refused unseen
    assert throttle.refusal("b") is None  # another client is not affected
    clock.now += 1.0
    assert throttle.refusal("a") is None
    for _ in range(3):
        throttle.failed("a")
        clock.now += 1.0
    assert "locked" in throttle.refusal("a").message
    clock.now += 58.0
    assert "locked" in throttle.refusal("a").message
    clock.now += 1.5
    assert throttle.refusal("a") is None  # served its lockout
    throttle.failed("a")
    assert throttle.refusal("a") is None  # counting starts again: the first failures are free
    throttle.succeeded("a")
    assert throttle.refusal("a") is None


def test_hammering_while_slowed_down_locks_out():
    clock = Clock()
    throttle = LoginThrottle(free_failures=3, lockout_attempts=10, clock=clock)
    for _ in range(3):
        throttle.failed("a")
    refusals = [throttle.refusal("a").message for _ in range(7)]
    assert all("wait" in refusal for refusal in refusals[:-1]) and "locked" in refusals[-1]
    clock.now += throttle.lockout_s / 2
    assert "locked" in throttle.refusal("a").message


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


def test_a_refused_login_says_how_long_to_wait_and_the_login_page_shows_it(studio):
    url, throttle = studio
    throttle.free_failures, throttle.delay_s = 1, 30.0
    with httpx.Client(base_url=url, timeout=30) as http:
        assert "studio-login-wait" in http.get("/").text  # the login page carries the script
        headers = {"X-Forwarded-For": "10.0.0.5"}
        assert http.post("login", data={"username": "ana", "password": "no"}, headers=headers).status_code == 400
        refused = http.post("login", data={"username": "ana", "password": "no"}, headers=headers)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 30
    assert refused.json()["retry_after"] == int(refused.headers["Retry-After"])


def test_the_login_page_shows_how_long_to_wait_after_too_many_failures(studio, tmp_path):
    """In a real browser: gradio's login form shows nothing on a 429; the studio's banner counts the wait down."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    from test_browser import CHROMIUM, CHROMIUM_ARGS, UI_TIMEOUT_MS  # skips without chromium

    expect = sync_api.expect
    url, throttle = studio
    throttle.free_failures, throttle.delay_s = 1, 30.0
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(url)
        page.get_by_label("username").fill("ana")
        page.get_by_label("password").fill("wrong")
        page.get_by_role("button", name="Login").click()
        expect(page.get_by_text("Incorrect Credentials")).to_be_visible()  # the first failure: gradio's own message
        page.get_by_role("button", name="Login").click()
        banner = page.locator("#studio-login-wait")
        expect(banner).to_have_text(re.compile(r"^Too many failed logins — try again in ([1-9]|[12][0-9]|30) s$"))
        page.screenshot(path=str(Path(os.environ.get("STUDIO_SCREENSHOT_DIR") or tmp_path) / "login_wait.png"))
        browser.close()
