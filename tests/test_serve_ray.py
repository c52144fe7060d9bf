"""`python app.py --serve ray --replicas 2` on the built-in family, driven as users drive it (gradio_client, loopback).

One app (one private Ray instance, two engine replicas) for the module: requests across the tabs are spread over
both replicas and saved whole by the app; Cancel stops the remote job within one step; a replica killed under load
loses no request and Ray replaces it. Skipped, with the reason, where Ray Serve is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from engine_helpers import write_tab_inputs
from PIL import Image
from ui_fixtures import free_port

from benchmarks.process_bench import app_process
from ldm_core.infotext import read_png_infotext

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray Serve is not installed (pip install -r requirements-serve.txt)"
)

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 420  # seconds: a private Ray instance, then two replicas loading the built-in family
LOAD_TIMEOUT = 300  # seconds for a whole burst of requests
STARTED = re.compile(r"job (\w+) \((\w+)\) started on replica (\w+) \(pid (\d+)")
READY = re.compile(r"replica (\w+) \(pid (\d+)\) ready")
TABS = ("/text2img", "/semantic", "/inpaint", "/upscale")
STUDENTS = [(f"student{index}", f"pass-{index}-word") for index in range(5)]  # a class: at most 4 jobs each


@dataclass
class Studio:
    url: str
    outputs: Path  # PNGs land in one folder per login (random names), found with rglob
    log: Path
    process: subprocess.Popen

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float, count: int = 1) -> list[re.Match]:
        deadline = time.monotonic() + timeout
        while True:
            found = list(re.finditer(pattern, self.log_text()))
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} x{count} not in the app's log within {timeout} s")
            time.sleep(0.2)


def student(url: str, index: int, timeout: float = LOAD_TIMEOUT):
    """A gradio_client logged in as student `index` (of five)."""
    from gradio_client import Client

    return Client(url, auth=STUDENTS[index % len(STUDENTS)], verbose=False, httpx_kwargs={"timeout": timeout})


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    folder = tmp_path_factory.mktemp("serve")
    port, outputs, log = free_port(), folder / "outputs", folder / "app.log"
    logins = folder / "logins.txt"
    logins.write_text("".join(f"{user}:{password}\n" for user, password in STUDENTS))
    command = [sys.executable, "app.py", "--serve", "ray", "--replicas", "2", "--port", str(port)]
    command += ["--outputs", str(outputs), "--offline", "--device", "cpu", "--max-queue", "32"]
    command += ["--auth-file", str(logins), "--max-request-seconds", "3600"]  # the test's long run is cancelled
    url = f"http://127.0.0.1:{port}/"
    with app_process(command, url, log, ready_timeout=START_TIMEOUT) as process:
        yield Studio(url, outputs, log, process)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("serve-inputs")
    return write_tab_inputs(folder, 128)


def request_for(index: int, files: dict[str, str], steps: int) -> tuple[str, dict, int]:
    """(api_name, keywords, seed): the tabs in turn, a unique seed per request."""
    from gradio_client import handle_file

    task, seed = TABS[index % len(TABS)], 5000 + index
    sampling = {"steps": steps, "seed": seed}
    if task == "/text2img":
        return task, {"prompt": f"a valley with a river, {index}", **sampling}, seed
    if task == "/semantic":
        editor = {"background": handle_file(files["map"]), "layers": [], "composite": None}
        return task, {"semantic_map": editor, **sampling}, seed
    if task == "/inpaint":
        editor = {"background": handle_file(files["photo"]), "layers": [handle_file(files["layer"])], "composite": None}
        return task, {"image_and_mask": editor, "prompt": "a house", **sampling}, seed
    return task, {"image": handle_file(files["small"]), **sampling}, seed


def check_pngs(outputs: Path, seeds: set[int]) -> None:
    """One complete PNG per served seed, carrying that seed; no partial file anywhere."""
    assert not [path for path in outputs.rglob("*") if path.name.startswith(".partial-")]
    pngs = list(outputs.rglob("*.png"))
    found = {int(path.stem.split("-")[1]): path for path in pngs}
    assert seeds <= set(found), f"missing PNGs for seeds {sorted(seeds - set(found))}"
    for seed in seeds:
        with Image.open(found[seed]) as image:
            image.verify()  # complete: every chunk present, every CRC right
        assert f"Seed: {seed}," in read_png_infotext(found[seed])


def run_burst(studio: Studio, files: dict[str, str], count: int, steps: int, first: int = 0):
    """Submit `count` requests at once from the five students; (served seeds, errors as text) once all are done."""
    clients = len(STUDENTS)
    pool = [student(studio.url, index) for index in range(clients)]
    jobs = []
    for index in range(first, first + count):
        task, kwargs, seed = request_for(index, files, steps)
        jobs.append((task, seed, pool[index % clients].submit(**kwargs, api_name=task)))
    deadline = time.monotonic() + LOAD_TIMEOUT
    served, errors = set(), []
    for task, seed, job in jobs:
        try:
            output = job.result(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            errors.append(f"{task} seed {seed}: no answer within {LOAD_TIMEOUT} s (hung)")
            continue
        except Exception as error:  # noqa: BLE001 (the test sorts clean errors from the rest)
            errors.append(f"{task} seed {seed}: {getattr(error, 'message', None) or error}")
            continue
        assert output[1] == seed  # the seed used, second output of every generating tab
        served.add(seed)
    for client in pool:
        client.close()
    return served, errors


def test_twenty_requests_across_the_tabs_use_both_replicas(studio: Studio, files: dict[str, str]):
    served, errors = run_burst(studio, files, count=20, steps=2)
    assert errors == [] and len(served) == 20
    jobs = {match.group(1): match.group(3) for match in STARTED.finditer(studio.log_text())}
    replicas = set(jobs.values())
    print(
        f"\n20 requests: {len(jobs)} jobs on replicas "
        + ", ".join(f"{r} x{list(jobs.values()).count(r)}" for r in replicas)
    )
    assert len(replicas) == 2, replicas
    assert {match.group(2) for match in STARTED.finditer(studio.log_text())} >= {
        "TextToImageRequest",
        "SemanticMapRequest",
        "InpaintRequest",
        "UpscaleRequest",
    }
    check_pngs(studio.outputs, served)


def test_cancel_reaches_the_replica_and_stops_its_job_within_one_step(studio: Studio):
    from gradio_client.utils import Status

    client = student(studio.url, 0)
    seed = 7777
    job = client.submit(prompt="a long one", steps=60, width=256, height=256, seed=seed, api_name="/text2img")
    deadline = time.monotonic() + LOAD_TIMEOUT
    while True:  # wait until the job is denoising on a replica, a few steps in
        status = job.status()
        step = max((unit.index or 0 for unit in status.progress_data or []), default=0)
        if status.code == Status.PROGRESS and step >= 3:
            break
        assert not job.done() and time.monotonic() < deadline, f"the job never got going: {status}"
        time.sleep(0.05)
    client.predict(api_name="/cancel")
    with pytest.raises(Exception):  # noqa: B017 (gradio_client raises its cancel or the studio's "Cancelled" error)
        job.result(timeout=60)
    line = studio.wait_for_log(
        r"cancelled on replica \w+: the cancel arrived during step (\d+) of (\d+); "
        r"the last step run was (\d+)",
        timeout=60,
    )[-1]
    arrived, total, last = (int(group) for group in line.groups())
    asked = int(studio.wait_for_log(r"job \w+ cancelled \(replica \w+, during step (\d+)\)", timeout=10)[-1].group(1))
    print(
        f"\ncancel: asked during step {asked} (as the app saw it), reached the replica during step {arrived} of "
        f"{total}, last step run {last}"
    )
    assert total == 60 and last <= arrived + 1  # the replica started at most the step under way when it arrived
    assert arrived <= asked + 1  # ... and it arrived within a step of the click
    client.close()
    assert not [path for path in studio.outputs.rglob("*.png") if path.stem.split("-")[1] == str(seed)]  # none saved


def test_a_replica_killed_under_load_loses_no_request(studio: Studio, files: dict[str, str]):
    pool = [student(studio.url, index) for index in range(len(STUDENTS))]
    before = len(STARTED.findall(studio.log_text()))
    jobs = []
    for index in range(100, 110):
        task, kwargs, seed = request_for(index * 4, files, steps=12)  # all text-to-image: steps long enough to kill in
        jobs.append((seed, pool[index % len(pool)].submit(**kwargs, api_name=task)))
    started = studio.wait_for_log(STARTED.pattern, timeout=LOAD_TIMEOUT, count=before + 2)
    victim = int(started[before].group(4))
    time.sleep(0.5)  # a step or so into its job
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + LOAD_TIMEOUT
    served, errors = set(), []
    for seed, job in jobs:
        try:
            output = job.result(timeout=max(0.1, deadline - time.monotonic()))
            assert output[1] == seed
            served.add(seed)
        except TimeoutError:
            errors.append(f"seed {seed}: hung")
        except Exception as error:  # noqa: BLE001
            errors.append(f"seed {seed}: {getattr(error, 'message', None) or error}")
    print(f"\nkilled replica pid {victim}: {len(served)} served, errors: {errors}")
    assert not [error for error in errors if "stopped unexpectedly" not in error]  # only the studio's clean error
    assert len(served) + len(errors) == len(jobs) and len(served) >= len(jobs) - 1
    check_pngs(studio.outputs, served)
    # Ray replaces the dead replica: a third one becomes ready, and the app serves on.
    replacement = studio.wait_for_log(READY.pattern, timeout=START_TIMEOUT, count=3)[-1]
    assert int(replacement.group(2)) != victim
    task, kwargs, seed = request_for(200, files, steps=2)
    assert pool[0].predict(**kwargs, api_name=task)[1] == seed
    for client in pool:
        client.close()
