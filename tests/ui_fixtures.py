"""Fixtures for the UI tests: a tiny random-weight family, an engine over it, and the app served on a free port.

Imported by test_app_api.py and test_browser.py (`from ui_fixtures import ...`), so the UI tests need no conftest.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

TINY_STEPS = 2  # enough to exercise every stage; the images are noise either way


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_engine(model_root: Path, outputs_dir: Path):
    from ldm_core import Engine, EngineConfig

    config = EngineConfig(
        preset="builtin",
        model_root=model_root,
        device="cpu",
        dtype="fp32",
        offload="none",
        outputs_dir=outputs_dir,
        save_outputs=True,
        offline=True,
    )
    return Engine(config)


@pytest.fixture(scope="module")
def ui_model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """STUDIO_TEST_MODEL_ROOT (e.g. assets/builtin, for screenshots on real weights), else a tiny random family."""
    chosen = os.environ.get("STUDIO_TEST_MODEL_ROOT")
    if chosen:
        return Path(chosen)
    from ldm_core.family import build_random_family

    return build_random_family(tmp_path_factory.mktemp("family"), size="tiny", seed=0)


@pytest.fixture(scope="module")
def studio_url(ui_model_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The studio (build_demo over a real engine) served on a free loopback port in a background thread."""
    from ui import build_demo

    # gradio's upload cache of this server alone: another studio on the machine that cleans the shared
    # <tmp>/gradio at its start (delete_cache) must not take this server's uploads away mid-test
    previous_cache = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio_cache"))
    engine = make_engine(ui_model_root, tmp_path_factory.mktemp("outputs"))
    demo = build_demo(engine)
    demo.queue()
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, share=False
    )
    try:
        yield url
    finally:
        demo.close()
        if previous_cache is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous_cache
