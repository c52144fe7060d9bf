"""An ASGI middleware in front of gradio's routes: login throttling, outputs to their owner, cancels gradio would drop.

- `POST /login`: refused with 429 and `Retry-After` while the client is slowed down or locked out
  (`ui.auth.LoginThrottle`); the answer (200 or 400) is recorded as a success or a failure.
- `GET /` before a login: gradio's login page, with `ui/static/login_wait.js`, which shows how long to wait when a
  login is refused with 429 (gradio's form shows nothing then).
- `GET /studio/outputs/<path>`: a saved output, to its owner only (403 for anyone else; see `ldm_core.outputs`);
  without logins, any saved output (the single-user layout).
- `POST /gradio_api/cancel` without an `event_id`: gradio_client sends this when a job is cancelled before the
  server's answer to its submission arrived, and gradio refused it (422), so the job ran anyway and was saved. When
  the session has no job of that endpoint here, the job has not arrived: it is refused when it does
  (`GuardedQueue.cancel_unjoined`).
- `POST /gradio_api/reset` with an `event_id`: a no-op in gradio, but both gradio clients send it right after a
  cancel, naming the job once they know its id; the guard stops that job (dropped while it waits, its task cancelled
  while it runs), for its own user only (`GuardedQueue.cancel_event`). A cancel that named no job ends here.

`install_http_guard(blocks)` makes every later `blocks.launch(...)` put the middleware in the app it builds.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware
from starlette.responses import FileResponse

from ldm_core.outputs import owner_of, user_folder_name

from .assets import STATIC
from .auth import LoginThrottle, client_address

logger = logging.getLogger(__name__)


async def _read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def _replay(body: bytes) -> Any:
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _json(send: Any, status: int, content: dict, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(content).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


OUTPUTS_ROUTE = "/studio/outputs/"


@cache
def login_script() -> bytes:
    """The login page's addition: a <script> with ui/static/login_wait.js."""
    return b"<script>" + (STATIC / "login_wait.js").read_bytes() + b"</script>"


def _with_login_script(page: bytes) -> bytes:
    head = page.find(b"</head>")
    return page if head < 0 else page[:head] + login_script() + page[head:]


def current_user(app: Any, scope: dict) -> str | None:
    """The logged-in user of a request, from gradio's login cookie (None when not logged in)."""
    cookies: dict[str, str] = {}
    for name, value in scope.get("headers") or []:
        if name.lower() == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                cookies[key] = val
    cookie_id = getattr(app, "cookie_id", "")
    token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
    return getattr(app, "tokens", {}).get(token) if token else None


class StudioGuardMiddleware:
    def __init__(self, app: Any, throttle: LoginThrottle, outputs_dir: Path | None = None):
        self.app, self.throttle, self.outputs_dir = app, throttle, outputs_dir

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
            if scope.get("path", "").startswith(OUTPUTS_ROUTE):
                return await self._output(scope, receive, send)
            if scope.get("method") == "GET" and self._is_login_page(scope):
                return await self._login_page(scope, receive, send)
        if scope["type"] == "http" and scope.get("method") == "POST":
            path = scope.get("path", "").rstrip("/")
            if path.endswith("/login"):
                return await self._login(scope, receive, send)
            if path.endswith("/gradio_api/cancel"):
                return await self._cancel(scope, receive, send)
            if path.endswith("/gradio_api/reset"):
                return await self._reset(scope, receive, send)
        await self.app(scope, receive, send)

    async def _login(self, scope: dict, receive: Any, send: Any) -> None:
        client = client_address(scope)
        refusal = self.throttle.refusal(client)
        if refusal is not None:
            logger.debug("login refused for %s: %s", client, refusal.message)
            wait = refusal.retry_after
            headers = [(b"retry-after", str(wait).encode())]
            return await _json(send, 429, {"detail": refusal.message, "retry_after": wait}, headers)
        status: list[int] = []

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if status and status[0] == 200:
            self.throttle.succeeded(client)
        elif status and status[0] in (400, 401, 403):
            self.throttle.failed(client)

    @staticmethod
    def _is_login_page(scope: dict) -> bool:
        """The app's main page asked for before a login (gradio answers it with its login form)."""
        app = scope.get("app")
        at_root = scope.get("path", "").rstrip("/") == scope.get("root_path", "").rstrip("/")
        return at_root and getattr(app, "auth", None) is not None and current_user(app, scope) is None

    async def _login_page(self, scope: dict, receive: Any, send: Any) -> None:
        """Gradio's login page with the login-wait script before its </head> (when it is plain HTML)."""
        start: dict = {}
        body = b""

        async def rewrite(message: dict) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                return await send(message)
            body += message.get("body", b"")
            if message.get("more_body"):
                return
            headers = dict(start.get("headers") or [])
            if headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers:
                body = _with_login_script(body)
            kept = [(name, value) for name, value in start.get("headers") or [] if name != b"content-length"]
            await send({**start, "headers": [*kept, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)

    async def _output(self, scope: dict, receive: Any, send: Any) -> None:
        """A saved PNG, to its owner only: 401 without a login, 403 for another user's file, 404 when absent."""
        app = scope.get("app")
        logins = getattr(app, "auth", None) is not None
        if self.outputs_dir is None:
            return await _json(send, 404, {"detail": "This studio does not save outputs."})
        user = current_user(app, scope) if logins else None
        if logins and user is None:
            return await _json(send, 401, {"detail": "Log in first."})
        root = Path(self.outputs_dir).resolve()
        path = (root / scope["path"][len(OUTPUTS_ROUTE) :]).resolve()
        if path.suffix.lower() != ".png" or not path.is_relative_to(root):
            return await _json(send, 403, {"detail": "Only saved outputs can be fetched here."})
        if logins and owner_of(root, path) != user_folder_name(user):
            logger.info("refused an output of another user to %s", user)
            return await _json(send, 403, {"detail": "That output belongs to another user."})
        if not path.is_file():
            return await _json(send, 404, {"detail": "No such output."})
        await FileResponse(path, media_type="image/png")(scope, receive, send)

    async def _cancel(self, scope: dict, receive: Any, send: Any) -> None:
        body = await _read_body(receive)
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = None
        queue = getattr(getattr(scope.get("app"), "get_blocks", lambda: None)(), "_queue", None)
        if (
            isinstance(data, dict)
            and not data.get("event_id")
            and isinstance(data.get("session_hash"), str)
            and isinstance(data.get("fn_index"), int)
            and hasattr(queue, "cancel_unjoined")
        ):
            await queue.cancel_unjoined(data["session_hash"], data["fn_index"])
            return await _json(send, 200, {"success": True})
        await self.app(scope, _replay(body), send)

    async def _reset(self, scope: dict, receive: Any, send: Any) -> None:
        """gradio's `/reset` (a no-op there) names the job a client cancels once it knows the job's id: stop it."""
        body = await _read_body(receive)
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = None
        app = scope.get("app")
        queue = getattr(getattr(app, "get_blocks", lambda: None)(), "_queue", None)
        if isinstance(data, dict) and isinstance(data.get("event_id"), str) and hasattr(queue, "cancel_event"):
            user = current_user(app, scope) if getattr(app, "auth", None) is not None else None
            await queue.cancel_event(data["event_id"], user)
        await self.app(scope, _replay(body), send)


def install_http_guard(
    blocks: gr.Blocks, throttle: LoginThrottle | None = None, outputs_dir: Path | None = None
) -> LoginThrottle:
    """Every later `blocks.launch(...)` serves through `StudioGuardMiddleware`; returns the throttle it uses."""
    throttle = throttle or LoginThrottle()
    original = blocks.launch

    def launch(*args: Any, **kwargs: Any) -> Any:
        app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
        app_kwargs["middleware"] = [
            *(app_kwargs.get("middleware") or []),
            Middleware(StudioGuardMiddleware, throttle=throttle, outputs_dir=outputs_dir),
        ]
        return original(*args, app_kwargs=app_kwargs, **kwargs)

    blocks.launch = launch  # type: ignore[method-assign]
    blocks.login_throttle = throttle  # type: ignore[attr-defined]
    return throttle
