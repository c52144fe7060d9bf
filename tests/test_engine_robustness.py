"""Out-of-memory recovery, one run at a time across threads, logged unexpected errors, and the core's import rules."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_helpers import STEPS, pixels

from ldm_core.errors import OutOfMemoryError
from ldm_core.requests import TextToImageRequest

CORE = Path(__file__).resolve().parents[1] / "ldm_core"


def request(**fields):
    return TextToImageRequest(
        **({"prompt": "a tree", "width": 32, "height": 32, "num_inference_steps": STEPS} | fields)
    )


@pytest.mark.parametrize(
    "error",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("MPS backend out of memory (MPS allocated: 9.00 GB)"),
    ],
)
def test_out_of_memory_frees_memory_suggests_offload_and_the_next_request_works(engine, monkeypatch, error):
    freed = []
    monkeypatch.setattr(engine.memory, "free", lambda: freed.append(True))
    before = set(Path(engine.config.outputs_dir).rglob("*.png"))

    def run_out_of_memory(event):
        raise error

    with pytest.raises(OutOfMemoryError, match="--offload model") as caught:
        engine.run(request(seed=1), progress=run_out_of_memory)
    assert "sequential" in str(caught.value) and freed == [True]
    assert set(Path(engine.config.outputs_dir).rglob("*.png")) == before
    assert engine.run(request(seed=1)).images


def test_unexpected_errors_are_logged_with_their_traceback(engine, caplog):
    def broken_callback(event):
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="ldm_core.engine"), pytest.raises(RuntimeError, match="boom"):
        engine.run(request(seed=1), progress=broken_callback)
    records = [record for record in caplog.records if record.name == "ldm_core.engine"]
    assert records and records[0].exc_info is not None
    assert engine.run(request(seed=1)).images


def test_concurrent_requests_run_one_at_a_time_and_do_not_race(engine):
    """Two threads with different samplers: steps never interleave, and each result equals the request run alone."""
    alone = {name: pixels(engine.run(request(seed=5, scheduler=name)).images[0]) for name in ("ddim", "euler_a")}
    results: dict[str, np.ndarray] = {}
    errors: list[BaseException] = []
    order: list[str] = []

    def worker(name: str) -> None:
        try:
            result = engine.run(request(seed=5, scheduler=name), progress=lambda event: order.append(name))
            results[name] = pixels(result.images[0])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("ddim", "euler_a")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    changes = sum(1 for earlier, later in zip(order, order[1:], strict=False) if earlier != later)
    assert len(order) == 2 * (STEPS + 1) and changes == 1
    for name in alone:
        np.testing.assert_array_equal(results[name], alone[name])


def run_python(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=CORE.parent, capture_output=True, text=True, timeout=120, check=True
    )
    return completed.stdout.strip()


def test_core_never_imports_gradio():
    code = (
        "import importlib, pkgutil, sys, ldm_core\n"
        "for module in pkgutil.walk_packages(ldm_core.__path__, 'ldm_core.'):\n"
        "    importlib.import_module(module.name)\n"
        "from ldm_core import Engine, EngineConfig\n"
        "print('gradio' in sys.modules, len([m for m in sys.modules if m.startswith('ldm_core.')]))"
    )
    imported_gradio, count = run_python(code).split()
    assert imported_gradio == "False" and int(count) > 10
    offenders = [path for path in CORE.rglob("*.py") if "gradio" in path.read_text()]
    assert offenders == []


def test_importing_the_core_does_nothing():
    assert (
        run_python("import sys, ldm_core; print('torch' in sys.modules, 'diffusers' in sys.modules)") == "False False"
    )


def test_engine_modules_read_no_environment_variables():
    entry_points = {"training", "data", "evaluation"}  # scripts with a __main__ may read their own settings
    library = [path for path in CORE.rglob("*.py") if not entry_points & set(path.relative_to(CORE).parts)]
    offenders = [path.name for path in library if "os.environ" in path.read_text() or "getenv" in path.read_text()]
    assert len(library) > 10 and offenders == []
