"""The History tab's reading of the outputs folder: newest first, search by prompt, per-user folders with logins."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image

from ldm_core.infotext import format_infotext
from ldm_core.outputs import save_images


def _save(outputs: Path, prompt: str, user: str | None = None, task: str = "text2img") -> Path:
    infotext = format_infotext(prompt, "", {"Steps": 2, "Seed": 1, "Task": task})
    paths, warnings = save_images(outputs, task, [Image.new("RGB", (8, 8))], [1], [infotext], user=user)
    assert not warnings
    return paths[0]


def test_newest_first_with_parameters_and_search_by_prompt_words(tmp_path: Path):
    from ui.tabs.history import find

    old = _save(tmp_path, "a lake with mountains")
    os.utime(old, (time.time() - 60, time.time() - 60))
    _save(tmp_path, "a red house", task="inpaint")
    found = find(tmp_path, None, "")
    assert [entry["infotext"].split("\n")[0] for entry in found] == ["a red house", "a lake with mountains"]
    assert found[0]["task"] == "inpaint"
    assert [entry["path"] for entry in find(tmp_path, None, "Lake MOUNTAINS")] == [str(old)]
    assert find(tmp_path, None, "lake house") == []


def test_with_logins_each_user_sees_and_deletes_only_their_own(tmp_path: Path):
    from ui.tabs.history import find
    from ui.tabs.history_files import delete_output

    alice = _save(tmp_path, "alice's valley", user="alice")
    bob = _save(tmp_path, "bob's sea", user="bob")
    shared = _save(tmp_path, "a shared field")
    assert [e["path"] for e in find(tmp_path, "alice", "")] == [str(alice)]
    assert [e["path"] for e in find(tmp_path, "bob", "")] == [str(bob)]
    assert [e["path"] for e in find(tmp_path, None, "")] == [str(shared)]  # no login: not the users' folders
    with pytest.raises(PermissionError):
        delete_output(tmp_path, "alice", bob)
    with pytest.raises(PermissionError):
        delete_output(tmp_path, None, alice)
    delete_output(tmp_path, "alice", alice)
    assert not alice.exists() and bob.exists() and find(tmp_path, "alice", "") == []
