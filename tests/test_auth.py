"""Sharing safely: --share/--listen need a login (a generated password, printed once on the terminal and never logged),
--no-auth opts out with a warning, and only the outputs folder is served as files. Loopback (127.0.0.1) only.

The end-to-end test runs `python app.py` in a subprocess over the tiny random family (--require-auth asks for the same
login on loopback that --share would on a public link), so flags, gradio's own output and the logs are the real ones.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from ui_fixtures import TINY_STEPS, free_port

import app

ROOT = Path(__file__).resolve().parents[1]


def args(*flags: str):
    return app.parse_args(list(flags))


@pytest.mark.parametrize("flag", ["--share", "--listen"])
def test_public_serving_without_auth_generates_a_password(flag):
    first, second = app.resolve_access(args(flag)), app.resolve_access(args(flag))
    assert first.generated is not None and first.logins == [first.generated]
    user, password = first.generated
    assert user == app.GENERATED_USER and len(password) >= 16
    assert second.generated[1] != password  # secrets, not a constant


def test_given_logins_are_used_and_nothing_is_generated():
    access = app.resolve_access(args("--share", "--auth", "ana:s3cret"))
    assert access.logins == [("ana", "s3cret")] and access.generated is None


def test_loopback_is_open_unless_asked():
    assert app.resolve_access(args()).logins is None
    assert app.resolve_access(args("--require-auth")).generated is not None


def test_no_auth_runs_open_only_with_a_warning(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="app"):
        access = app.resolve_access(args("--share", "--no-auth"))
    assert access.logins is None and "WITHOUT a login" in caplog.text
    with pytest.raises(SystemExit, match="contradicts"):
        app.resolve_access(args("--listen", "--no-auth", "--auth", "a:b"))


def test_credentials_are_printed_once_to_the_terminal_and_never_logged(capsys, caplog):
    with caplog.at_level(logging.DEBUG):
        access = app.resolve_access(args("--share"))
        app.print_credentials(access.generated)
    out = capsys.readouterr().out
    assert out.count(access.generated[1]) == 1 and access.generated[0] in out
    assert access.generated[1] not in caplog.text


def test_a_malformed_login_line_is_not_echoed():
    with pytest.raises(SystemExit) as caught:
        app.read_auth(args("--auth", "hunter2-my-password"))
    assert "hunter2" not in str(caught.value) and "user:pass" in str(caught.value)


def test_launch_options_keep_loopback_limits_and_serve_only_outputs(tmp_path: Path):
    options = app.launch_options(
        args("--outputs", str(tmp_path), "--max-upload-mb", "2", "--model-dir", str(tmp_path / "m")),
        app.Access(None),
    )
    assert options["server_name"] == "127.0.0.1" and options["show_error"] is False
    assert options["max_file_size"] == 2 * 1024 * 1024
    assert options["allowed_paths"] == [str(tmp_path)]
    assert options["blocked_paths"] == [str(tmp_path / "m"), "models"]  # the family and the checkpoint folders
    assert app.launch_options(args("--no-save"), app.Access(None))["allowed_paths"] == []


def test_limit_flags_reach_the_engine_config():
    config = app.engine_config(args("--max-steps", "10", "--max-batch", "2", "--max-pixels", "65536"))
    assert (config.limits.max_steps, config.limits.max_batch, config.limits.max_pixels) == (10, 2, 65536)
    with pytest.raises(SystemExit):
        args("--max-queue", "0")


# ---- end to end: python app.py --require-auth on a free loopback port --------------------------------------------
class Server:
    """`python app.py ...` with stdout and stderr collected by reader threads."""

    def __init__(self, flags: list[str]):
        env = os.environ | {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "app.py", *flags],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(iter(s.readline, "")), daemon=True).start()

    def wait_for(self, text: str, timeout: float = 360) -> None:  # importing torch and gradio on a busy shared CPU
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in "".join(self.out):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(
            f"no {text!r} from app.py; stdout: {''.join(self.out)} stderr: {''.join(self.err)[-3000:]}"
        )

    def stop(self) -> tuple[str, str]:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        time.sleep(0.2)  # let the reader threads drain
        return "".join(self.out), "".join(self.err)


def test_app_asks_for_the_printed_login_and_serves_only_outputs(family_root: Path, tmp_path: Path):
    port = free_port()
    outputs = tmp_path / "outputs"
    flags = ["--require-auth", "--port", str(port), "--model-dir", str(family_root), "--outputs", str(outputs)]
    server = Server([*flags, "--device", "cpu", "--dtype", "fp32", "--offline", "--verbose"])
    try:
        server.wait_for("Login required")
        server.wait_for("password: ")
        line = next(line for line in "".join(server.out).splitlines() if "password: " in line)
        user, password = line.split("user: ")[1].split()[0], line.split("password: ")[1].split()[0]
        url = f"http://127.0.0.1:{port}/"

        with pytest.raises(Exception, match="(?i)login|auth|401|credentials"):  # noqa: B017 (gradio_client's type varies)
            Client(url, verbose=False)
        assert httpx.get(url + "config").status_code == 401
        with pytest.raises(Exception, match="(?i)login|auth|incorrect|credentials|401"):  # noqa: B017
            Client(url, auth=(user, password + "x"), verbose=False)

        client = Client(url, auth=(user, password), verbose=False)
        _, seed_used, infotext = client.predict(prompt="sky", steps=TINY_STEPS, seed=4, api_name="/text2img")
        assert seed_used == 4 and "Seed: 4" in infotext

        with httpx.Client(base_url=url) as http:
            assert http.post("login", data={"username": user, "password": password}).status_code == 200
            saved = next(outputs.rglob("*.png"))
            # with logins, outputs are served to their owner only, at /studio/outputs/ (not by gradio's file route)
            assert http.get(f"studio/outputs/{saved.relative_to(outputs).as_posix()}").status_code == 200
            assert http.get(f"gradio_api/file={saved.resolve()}").status_code == 403
            for private in (ROOT / "app.py", family_root / "model_index.json", Path("/etc/passwd")):
                assert http.get(f"gradio_api/file={private}").status_code in (403, 404), private
    finally:
        out, err = server.stop()
    assert out.count(password) == 1, "the generated password is printed exactly once"
    assert password not in err, "the password must not reach the logs (stderr, DEBUG level)"
    assert "Running on local URL:  http://127.0.0.1:" in out + err and "0.0.0.0" not in out + err
