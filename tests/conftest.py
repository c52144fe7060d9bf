"""Shared fixtures for the engine tests: a tiny random-weight built-in family, built once per session, an engine over
it, and tiny models saved in the sd15 / ldm-paper folder layouts for the loader tests. Offline, CPU, seconds."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere: nothing may download in tests

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The test machine is shared (training runs beside the tests): one intra-op thread avoids oversubscription."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def family_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ldm_core.family import build_random_family

    return build_random_family(tmp_path_factory.mktemp("family"), size="tiny", seed=0)


@pytest.fixture(scope="session")
def make_engine(tmp_path_factory: pytest.TempPathFactory) -> Callable:
    """Engine factory with test defaults (CPU, fp32, offline, outputs in a fresh temp folder)."""
    from ldm_core import Engine, EngineConfig

    def make(**overrides):
        options = {"device": "cpu", "dtype": "fp32", "offload": "none", "offline": True}
        options["outputs_dir"] = tmp_path_factory.mktemp("outputs")
        return Engine(EngineConfig(**(options | overrides)))

    return make


@pytest.fixture(scope="session")
def engine(make_engine: Callable, family_root: Path):
    """One engine over the tiny family for the whole session (models load once, as in the app)."""
    return make_engine(model_root=family_root)


@pytest.fixture(scope="session")
def other_layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random models saved as the sd15 and ldm-paper presets' sources are laid out."""
    from model_layouts import build_other_layouts

    return build_other_layouts(tmp_path_factory.mktemp("layouts"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test item (`item.rep_call`), for fixtures that act on a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
