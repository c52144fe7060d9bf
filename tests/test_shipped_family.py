"""The family shipped in assets/ loads through the engine and runs every task (2 steps): weights, configs and
tokenizer are complete and consistent. Skipped, with the reason, on a checkout without the trained family."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import scene_requests

FAMILY = Path(__file__).resolve().parent.parent / "assets" / "builtin"
pytestmark = pytest.mark.skipif(not (FAMILY / "family.json").exists(), reason="no trained family in assets/builtin")


def test_shipped_family_is_small_and_fp16():
    total = sum(f.stat().st_size for f in FAMILY.parent.rglob("*") if f.is_file())
    assert total < 40 * 2**20, f"assets/ is {total / 2**20:.1f} MB; the budget is 40 MB"
    assert json.loads((FAMILY / "family.json").read_text())["weights_dtype"] == "float16"


def test_shipped_family_runs_every_task(make_engine):
    engine = make_engine(model_root=FAMILY)
    assert all(reason is None for reason in engine.task_status().values()), engine.task_status()
    requests = scene_requests(11)
    for request in requests:
        image = np.asarray(engine.run(request).images[0])
        assert image.shape == (128, 128, 3)
        assert image.std() > 1.0, f"{type(request).__name__} gave a flat image"
