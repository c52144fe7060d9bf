"""Any cancel stops the engine at its next step and saves nothing: the queue's cancel (gradio_client `job.cancel()`),
the Cancel button's `/cancel`, a client that goes away. Cancelled work never holds up another user; `/cancel` is
accepted when the queue is full and drops the caller's queued jobs; one user cannot hold more than their share.

The studio is served over the tiny random-weight family on 127.0.0.1; a recording proxy in front of the real engine
notes every denoising step and whether the run's cancel event was already set when it began.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError, Status
from ui_fixtures import free_port

HEAVY_STEPS = 150  # far more than the tests ever let run
TINY_STEPS = 2
DEADLINE_S = 120  # generous: only a hang or a job that ran to the end can take this long
LOGINS = {"ana": "ana-pass", "bo": "bo-pass"}


def login(url: str, user: str) -> Client:
    return Client(url, auth=(user, LOGINS[user]), verbose=False)


class RecordingEngine:
    """The real engine behind a proxy that logs (run, step, cancel already set?) for each denoising step."""

    def __init__(self, engine):
        self.engine, self.config = engine, engine.config
        self.steps: list[tuple[int, int, bool]] = []
        self.outcomes: dict[int, str] = {}
        self.first_step = threading.Event()
        self._ids = itertools.count()

    def run(self, request, progress=None, cancel=None, **kwargs):
        run_id = next(self._ids)

        def record(event):
            self.steps.append((run_id, request.num_inference_steps, cancel is not None and cancel.is_set()))
            if request.num_inference_steps == HEAVY_STEPS:
                self.first_step.set()
            if progress is not None:
                progress(event)

        try:
            result = self.engine.run(request, progress=record, cancel=cancel, **kwargs)
        except BaseException as error:
            self.outcomes[run_id] = type(error).__name__
            raise
        self.outcomes[run_id] = "done"
        return result

    def task_status(self):
        return self.engine.task_status()

    def describe(self):
        return self.engine.describe()

    def heavy_runs(self) -> set[int]:
        return {run for run, steps, _ in self.steps if steps == HEAVY_STEPS}


@pytest.fixture()
def studio(engine, request) -> Iterator[tuple[str, RecordingEngine, Path]]:
    """max_size: the queue's (gradio's --max-queue) size, 3 unless the test is marked `queue_size(n)`."""
    from ui import build_demo

    marker = request.node.get_closest_marker("queue_size")
    engine.load("text2img")
    recorder = RecordingEngine(engine)
    demo = build_demo(recorder)
    demo.queue(max_size=marker.args[0] if marker else 3, default_concurrency_limit=1)
    _, url, _ = demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        share=False,
        auth=list(LOGINS.items()),
    )
    try:
        yield url, recorder, Path(engine.config.outputs_dir)
    finally:
        demo.close()


def heavy(client: Client, seed: int):
    return client.submit(
        prompt="a house", steps=HEAVY_STEPS, seed=seed, width=256, height=256, upscale_x4=False, api_name="/text2img"
    )


def wait_for(condition, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def pngs(folder: Path) -> set[Path]:
    return set(folder.rglob("*.png"))


def test_submit_and_cancel_ten_heavy_jobs_then_a_tiny_one_runs_at_once(studio):
    url, recorder, outputs = studio
    before = pngs(outputs)
    attacker, other = login(url, "ana"), login(url, "bo")
    jobs = []
    for index in range(10):
        job = heavy(attacker, seed=100 + index)
        jobs.append(job)
        if index == 0:  # the first one really runs on the engine before it is cancelled
            wait_for(recorder.first_step.is_set)
        job.cancel()
    tiny = other.submit(prompt="a tree", steps=TINY_STEPS, seed=7, api_name="/text2img")
    output = tiny.result(timeout=DEADLINE_S)
    assert output[1] == 7
    wait_for(lambda: all(recorder.outcomes.get(run) for run in recorder.heavy_runs()))
    heavy_runs = recorder.heavy_runs()
    # Each heavy run that reached the engine stopped with CancelledError, long before its 150 steps ...
    assert heavy_runs and all(recorder.outcomes[run] == "CancelledError" for run in heavy_runs)
    for run in heavy_runs:
        steps = [cancelled for run_id, _, cancelled in recorder.steps if run_id == run]
        assert len(steps) < HEAVY_STEPS
        assert sum(steps) <= 1  # ... at most the step already starting when the cancel landed
    # ... and only the tiny request saved a file.
    saved = pngs(outputs) - before
    assert [path.name.split("-")[1] for path in saved] == ["7"]
    attacker.close()
    other.close()


def test_a_client_that_leaves_stops_its_run(studio):
    """A browser tab closed mid-run: its event stream drops; gradio marks the job dead and the engine stops."""
    url, recorder, outputs = studio
    before = pngs(outputs)
    client = login(url, "ana")
    fn_index = client._infer_fn_index("/text2img", None)
    given = {"prompt": "a house", "steps": HEAVY_STEPS, "seed": 300, "width": 256, "height": 256, "upscale_x4": False}
    parameters = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/text2img"]["parameters"]
    inputs = [given.get(p["parameter_name"], p["parameter_default"]) for p in parameters]
    session = "a-tab-that-closes"
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("login", data={"username": "ana", "password": LOGINS["ana"]}).status_code == 200
        joined = http.post(
            "gradio_api/queue/join", json={"data": inputs, "fn_index": fn_index, "session_hash": session}
        )
        assert joined.status_code == 200, joined.text
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as events:
            for line in events.iter_lines():
                if "process_generating" in line or "progress" in line:
                    break  # the run is under way: now the tab goes away
    wait_for(lambda: recorder.heavy_runs() and all(recorder.outcomes.get(run) for run in recorder.heavy_runs()))
    assert [recorder.outcomes[run] for run in recorder.heavy_runs()] == ["CancelledError"]
    assert pngs(outputs) == before


def test_a_cancel_sent_before_the_jobs_id_was_known(studio):
    """gradio_client's `job.cancel()` before the answer to its submission names no job (`event_id` null), then names
    it in `/reset` once the answer arrives: a job not yet submitted is refused; one already here is left alone until
    its client names it, and only its own user can name it."""
    url, recorder, outputs = studio
    before = pngs(outputs)
    client = login(url, "ana")
    fn_index = client._infer_fn_index("/text2img", None)
    given = {"prompt": "a house", "steps": HEAVY_STEPS, "width": 256, "height": 256, "upscale_x4": False}
    parameters = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/text2img"]["parameters"]
    session = "a-script-that-cancels-early"
    with httpx.Client(base_url=url, timeout=30) as ana, httpx.Client(base_url=url, timeout=30) as bo:
        assert ana.post("login", data={"username": "ana", "password": LOGINS["ana"]}).status_code == 200
        assert bo.post("login", data={"username": "bo", "password": LOGINS["bo"]}).status_code == 200

        def join(seed: int) -> httpx.Response:
            values = given | {"seed": seed}
            inputs = [values.get(p["parameter_name"], p["parameter_default"]) for p in parameters]
            return ana.post(
                "gradio_api/queue/join", json={"data": inputs, "fn_index": fn_index, "session_hash": session}
            )

        def early_cancel() -> None:
            body = {"fn_index": fn_index, "session_hash": session, "event_id": None}
            assert ana.post("gradio_api/cancel", json=body).status_code == 200

        early_cancel()  # nothing of this session is here yet: its submission is refused when it arrives
        refused = join(600)
        assert refused.status_code != 200 and "Cancelled" in refused.text
        running = join(601).json()["event_id"]
        wait_for(recorder.first_step.is_set)
        queued = join(602).json()["event_id"]
        early_cancel()  # the running job may be an earlier one: nothing is guessed ...
        bo.post("gradio_api/reset", json={"event_id": running})  # ... and another user cannot name ana's job
        steps = len(recorder.steps)
        wait_for(lambda: len(recorder.steps) >= steps + 2)  # still running
        assert ana.get("gradio_api/queue/status").json()["queue_size"] == 1
        ana.post("gradio_api/reset", json={"event_id": queued})  # named: dropped from the queue
        assert ana.get("gradio_api/queue/status").json()["queue_size"] == 0
        ana.post("gradio_api/reset", json={"event_id": running})  # named: stopped at its next step
        wait_for(lambda: all(recorder.outcomes.get(run) for run in recorder.heavy_runs()))
    assert [recorder.outcomes[run] for run in recorder.heavy_runs()] == ["CancelledError"]
    assert sum(cancelled for _, _, cancelled in recorder.steps) <= 1
    assert pngs(outputs) == before
    client.close()


def test_cancel_is_accepted_with_a_full_queue_and_drops_the_sessions_queued_jobs(studio):
    url, recorder, outputs = studio
    before = pngs(outputs)
    client = login(url, "ana")
    running = heavy(client, seed=400)
    wait_for(recorder.first_step.is_set)
    queued = [heavy(client, seed=401 + index) for index in range(3)]  # the per-user cap is 4: all are accepted
    wait_for(lambda: all(job.status().code == Status.IN_QUEUE for job in queued))
    assert len(queued) == 3  # the queue (3) is full: /cancel still gets in
    client.predict(api_name="/cancel")
    for job in [running, *queued]:
        with pytest.raises(AppError, match="Cancelled"):
            job.result(timeout=DEADLINE_S)
    assert len(recorder.heavy_runs()) == 1  # the queued ones never reached the engine
    assert pngs(outputs) == before
    client.close()


@pytest.mark.queue_size(8)
def test_one_user_cannot_hold_more_than_their_share_of_the_queue(studio):
    """With room for 8 in the queue, one user's fifth job is refused while another user's first still gets in."""
    url, recorder, _ = studio
    greedy, polite = login(url, "ana"), login(url, "bo")
    jobs = [heavy(greedy, seed=500)]
    wait_for(recorder.first_step.is_set)
    jobs += [heavy(greedy, seed=501 + index) for index in range(3)]
    wait_for(lambda: all(job.status().code == Status.IN_QUEUE for job in jobs[1:]))
    with pytest.raises(QueueError):
        heavy(greedy, seed=510).result(timeout=DEADLINE_S)
    polite_job = polite.submit(prompt="a tree", steps=TINY_STEPS, seed=8, api_name="/text2img")
    wait_for(lambda: polite_job.status().code == Status.IN_QUEUE)
    greedy.predict(api_name="/cancel")  # (only to keep the test short)
    assert polite_job.result(timeout=DEADLINE_S)[1] == 8
    greedy.close()
    polite.close()
