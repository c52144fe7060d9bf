"""An ASGI middleware in front of gradio's routes: login throttling, and cancels that gradio would drop.

- `POST /login`: refused with 429 while the client is slowed down or locked out (`ui.auth.LoginThrottle`); the
  answer (200 or 400) is recorded as a success or a failure.
- `POST /gradio_api/cancel` without an `event_id`: gradio_client sends this when a job is cancelled before the
  server's answer to its submission arrived, and gradio refused it (422), so the job ran anyway and was saved. The
  guard cancels the session's running job of that endpoint, drops its queued ones, or, when the job has not reached
  the server yet, refuses it when it does (`GuardedQueue.cancel_unjoined`).

`install_http_guard(blocks)` makes every later `blocks.launch(...)` put the middleware in the app it builds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

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


async def _json(send: Any, status: int, content: dict) -> None:
    payload = json.dumps(content).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class StudioGuardMiddleware:
    def __init__(self, app: Any, throttle: LoginThrottle):
        self.app, self.throttle = app, throttle

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            path = scope.get("path", "").rstrip("/")
            if path.endswith("/login"):
                return await self._login(scope, receive, send)
            if path.endswith("/gradio_api/cancel"):
                return await self._cancel(scope, receive, send)
        await self.app(scope, receive, send)

    async def _login(self, scope: dict, receive: Any, send: Any) -> None:
        client = client_address(scope)
        refusal = self.throttle.check(client)
        if refusal is not None:
            logger.info("login refused for %s: %s", client, refusal)
            return await _json(send, 429, {"detail": refusal})
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


def install_http_guard(blocks: gr.Blocks, throttle: LoginThrottle | None = None) -> LoginThrottle:
    """Every later `blocks.launch(...)` serves through `StudioGuardMiddleware`; returns the throttle it uses."""
    throttle = throttle or LoginThrottle()
    original = blocks.launch

    def launch(*args: Any, **kwargs: Any) -> Any:
        app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
        app_kwargs["middleware"] = [
            *(app_kwargs.get("middleware") or []),
            Middleware(StudioGuardMiddleware, throttle=throttle),
        ]
        return original(*args, app_kwargs=app_kwargs, **kwargs)

    blocks.launch = launch  # type: ignore[method-assign]
    blocks.login_throttle = throttle  # type: ignore[attr-defined]
    return throttle
