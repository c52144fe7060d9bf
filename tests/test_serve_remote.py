"""`RemoteEngine` over a scripted stand-in for the deployment handle: saving in the app, errors, retry, cancel.

No Ray cluster: the handle's streams are scripted here (what a replica would send, or the error Ray would raise).
Ray must be installed for its exception types; skipped with the reason otherwise. The real cluster is in
test_serve_ray.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray Serve is not installed (pip install -r requirements-serve.txt)")

from PIL import Image  # noqa: E402
from ray.exceptions import ActorDiedError  # noqa: E402
from ray.serve.exceptions import RequestCancelledError  # noqa: E402

from ldm_core import EngineConfig  # noqa: E402
from ldm_core.errors import CancelledError, InvalidRequestError  # noqa: E402
from ldm_core.infotext import read_png_infotext  # noqa: E402
from ldm_core.requests import GenerationResult, ProgressEvent, TextToImageRequest  # noqa: E402
from ldm_serve.messages import JobFailed, JobFinished, JobStarted  # noqa: E402
from ldm_serve.remote import RemoteEngine, ReplicaLostError  # noqa: E402

REQUEST = TextToImageRequest(prompt="a lake", seed=41, batch_size=2)


def finished(seed: int = 41) -> JobFinished:
    images = [Image.new("RGB", (16, 16), (index * 90, 40, 200)) for index in range(2)]
    infotexts = [f"a lake\nSteps: 2, Seed: {seed + index}, Task: text2img" for index in range(2)]
    result = GenerationResult(task="text2img", images=images, seed=seed, model="m", infotexts=infotexts)
    return JobFinished(result, {"text2img": None, "upscale": "no model"}, {"device": "cpu", "loaded": ["text2img"]})


class Stream:
    """One scripted streaming response: items are yielded; an exception instance is raised; "wait" blocks until
    cancel() (then raises Ray's RequestCancelledError, as the real one does)."""

    def __init__(self, script: list):
        self.script, self.cancelled = script, threading.Event()

    def __iter__(self):
        for item in self.script:
            if item == "wait":
                assert self.cancelled.wait(10), "the stream was never cancelled"
                raise RequestCancelledError("r1")
            if isinstance(item, BaseException):
                raise item
            yield item

    def cancel(self) -> None:
        self.cancelled.set()


class Handle:
    def __init__(self, *scripts: list):
        self.streams = [Stream(script) for script in scripts]
        self.calls = 0
        handle = self

        class Generate:
            def remote(self, job: str, request: object) -> Stream:
                handle.calls += 1
                return handle.streams[handle.calls - 1]

        class Unary:
            def __init__(self, value: object):
                self.value = value

            def remote(self):
                return self

            def result(self):
                return self.value

        self.generate = Generate()
        self.task_status = Unary({"text2img": None, "upscale": None})
        self.describe = Unary({"device": "cpu", "loaded": []})

    def options(self, stream: bool) -> Handle:
        return self


def engine_over(handle: Handle, outputs: Path, save: bool = True) -> RemoteEngine:
    return RemoteEngine(handle, EngineConfig(outputs_dir=outputs, save_outputs=save), "Ray Serve, 2 replicas")


STARTED = JobStarted(job="j", replica="r1", pid=1, node="n")


def test_a_run_streams_progress_and_is_saved_by_the_app(tmp_path: Path):
    events = [ProgressEvent(0, 2), ProgressEvent(1, 2), ProgressEvent(2, 2)]
    engine = engine_over(Handle([STARTED, *events, finished()]), tmp_path)
    seen = []
    result = engine.run(REQUEST, progress=seen.append)
    assert seen == events
    assert [path.name.split("-", 1)[1] for path in result.saved_paths] == ["41.png", "42.png"]
    assert "Seed: 42," in read_png_infotext(result.saved_paths[1])
    assert engine.task_status() == {"text2img": None, "upscale": "no model"}  # refreshed from the replica
    assert engine.describe()["serving"] == "Ray Serve, 2 replicas" and engine.describe()["loaded"] == ["text2img"]


def test_no_save_saves_nothing(tmp_path: Path):
    result = engine_over(Handle([STARTED, finished()]), tmp_path, save=False).run(REQUEST)
    assert result.saved_paths == [] and not list(tmp_path.rglob("*.png"))


def test_a_studio_error_from_the_replica_is_raised_as_is(tmp_path: Path):
    error = InvalidRequestError("width", 500, "must be a multiple of 8")
    with pytest.raises(InvalidRequestError, match="width: must be a multiple of 8"):
        engine_over(Handle([STARTED, JobFailed(error)]), tmp_path).run(REQUEST)


def test_an_unexpected_replica_failure_logs_its_traceback(tmp_path: Path, caplog):
    with pytest.raises(RuntimeError, match="failed on replica r1"):
        engine_over(Handle([STARTED, JobFailed(None, "Traceback: boom")]), tmp_path).run(REQUEST)
    assert "Traceback: boom" in caplog.text


def test_a_dead_replica_is_retried_once_on_another(tmp_path: Path):
    handle = Handle([STARTED, ProgressEvent(0, 2), ActorDiedError()], [STARTED, finished()])
    result = engine_over(handle, tmp_path).run(REQUEST)
    assert handle.calls == 2 and len(result.saved_paths) == 2
    assert any("run again on another" in warning for warning in result.warnings)


def test_two_dead_replicas_give_a_clean_error_and_save_nothing(tmp_path: Path):
    handle = Handle([STARTED, ActorDiedError()], [ActorDiedError()])
    with pytest.raises(ReplicaLostError, match="stopped unexpectedly, twice.*run it again"):
        engine_over(handle, tmp_path).run(REQUEST)
    assert not list(tmp_path.rglob("*.png"))


def test_cancel_cancels_the_ray_request(tmp_path: Path):
    handle = Handle([STARTED, ProgressEvent(0, 2), "wait"])
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    with pytest.raises(CancelledError, match="Cancelled by the user"):
        engine_over(handle, tmp_path).run(REQUEST, cancel=cancel)
    assert handle.streams[0].cancelled.is_set() and not list(tmp_path.rglob("*.png"))


def test_a_cancel_while_the_images_come_back_saves_nothing(tmp_path: Path):
    cancel = threading.Event()
    engine = engine_over(Handle([STARTED, ProgressEvent(2, 2), finished()]), tmp_path)
    with pytest.raises(CancelledError):
        engine.run(REQUEST, progress=lambda event: cancel.set(), cancel=cancel)
    assert not list(tmp_path.rglob("*.png"))


def test_with_logins_the_images_go_to_the_owners_folder_under_private_names(tmp_path: Path):
    from ldm_core.outputs import user_dir

    result = engine_over(Handle([STARTED, finished()]), tmp_path).run(REQUEST, owner="ada")
    folder = user_dir(tmp_path, "ada")
    assert all(folder in path.parents for path in result.saved_paths)
    assert all(len(path.stem.split("-")) >= 3 for path in result.saved_paths)  # <n>-<seed>-<random>
