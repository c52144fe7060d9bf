"""With logins, each user's outputs live in their own folder under unguessable names, and only they can fetch them:
another user gets 403 by name, by guess and through gradio's file route. The core API the history view builds on
(`user_dir`, `list_outputs`, `owner_of`) is checked here too. Loopback only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from PIL import Image
from ui_fixtures import TINY_STEPS, free_port

from ldm_core.outputs import list_outputs, output_folder, owner_of, save_png, user_dir, user_folder_name

LOGINS = {"ana": "ana-pass", "bo": "bo-pass"}


@pytest.fixture(scope="module")
def studio(make_engine, family_root) -> Iterator[tuple[str, Path]]:
    from ui import build_demo

    engine = make_engine(model_root=family_root)  # its own outputs folder
    demo = build_demo(engine)
    demo.queue()
    _, url, _ = demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        auth=list(LOGINS.items()),
    )
    try:
        yield url, Path(engine.config.outputs_dir)
    finally:
        demo.close()


def session(url: str, user: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=30)
    assert http.post("login", data={"username": user, "password": LOGINS[user]}).status_code == 200
    return http


def test_only_the_owner_fetches_an_output(studio):
    url, outputs = studio
    client = Client(url, auth=("ana", LOGINS["ana"]), verbose=False)
    client.predict(prompt="a tree", steps=TINY_STEPS, seed=42, api_name="/text2img")
    client.close()
    saved = list_outputs(outputs, "ana")
    assert saved and saved[0].task == "text2img"
    path = saved[0].path
    assert path.is_relative_to(user_dir(outputs, "ana")) and owner_of(outputs, path) == user_folder_name("ana")
    number, seed, random_part = path.stem.split("-", 2)
    assert seed == "42" and len(random_part) >= 16  # the name cannot be guessed from a counter and a seed
    assert list_outputs(outputs, "bo") == []

    relative = path.relative_to(outputs).as_posix()
    ana, bo, stranger = session(url, "ana"), session(url, "bo"), httpx.Client(base_url=url)
    try:
        mine = ana.get(f"studio/outputs/{relative}")
        assert mine.status_code == 200 and mine.content == path.read_bytes()
        assert bo.get(f"studio/outputs/{relative}").status_code == 403
        assert stranger.get(f"studio/outputs/{relative}").status_code == 401
        # guesses: the old counter-seed names, in ana's folder and in the shared layout
        folder = path.parent.relative_to(outputs).as_posix()
        for guess in (f"{folder}/{number}-{seed}.png", f"text2img/{dt.date.today()}/00001-42.png"):
            assert bo.get(f"studio/outputs/{guess}").status_code in (403, 404)
        assert bo.get(f"studio/outputs/{folder}/{number}-{seed}.png").status_code == 403
        assert bo.get(f"studio/outputs/../{path.name}").status_code in (403, 404)
        # gradio's own file route does not serve the outputs folder at all
        assert bo.get(f"gradio_api/file={path}").status_code == 403
        assert ana.get(f"gradio_api/file={path}").status_code == 403
    finally:
        for http in (ana, bo, stranger):
            http.close()


def test_list_outputs_is_newest_first_and_per_user(tmp_path: Path):
    day = dt.date(2026, 1, 2)
    first = save_png(Image.new("RGB", (8, 8)), output_folder(tmp_path, "semantic", day, user="ana"), 1, "x", True)
    second = save_png(Image.new("RGB", (8, 8)), output_folder(tmp_path, "text2img", day, user="ana"), 2, "y", True)
    shared = save_png(Image.new("RGB", (8, 8)), output_folder(tmp_path, "text2img", day), 3, "z")
    import os

    os.utime(first, (1, 1))
    assert [item.path for item in list_outputs(tmp_path, "ana")] == [second, first]
    assert [item.path for item in list_outputs(tmp_path, None)] == [shared]  # the shared layout skips users/
    assert list_outputs(tmp_path, "ana", limit=1)[0].path == second
    assert owner_of(tmp_path, shared) is None and owner_of(tmp_path, Path("/elsewhere/x.png")) is None
    assert user_folder_name("a/../b") != user_folder_name("a_.._b") and "/" not in user_folder_name("a/../b")
