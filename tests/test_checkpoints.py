"""The checkpoint picker in the engine: choices, switching under the lock, Model hash in infotext, wrong files.

A tiny SD 1.x checkpoint in the original key layout stands in for an A1111 file; its config folder stands in for the
shipped full-size configs (ldm_core.single_file.CONFIG_ROOT), so the offline single-file path runs in seconds.
"""

from __future__ import annotations

import gc
import hashlib
import shutil
import weakref
from pathlib import Path

import pytest

from ldm_core import single_file
from ldm_core.errors import InvalidRequestError, ModelNotAvailableError
from ldm_core.requests import TextToImageRequest

REQUEST = {"prompt": "a tree", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 3}


@pytest.fixture(scope="session")
def tiny_sd15(tmp_path_factory) -> tuple[Path, Path]:
    from model_layouts import build_tiny_sd15_file

    return build_tiny_sd15_file(tmp_path_factory.mktemp("tiny_sd15"))


@pytest.fixture
def models_dir(tiny_sd15, tmp_path, monkeypatch) -> Path:
    """A models folder holding the tiny checkpoint and a LoRA; the tiny configs stand in for the shipped ones."""
    path, configs = tiny_sd15
    monkeypatch.setattr(single_file, "CONFIG_ROOT", configs)
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    from test_single_file import FAKES, write_fake

    write_fake(folder / "detail-lora.safetensors", FAKES["lora"])
    (folder / "notes.txt").write_text("not a checkpoint")
    return folder


def test_choices_list_builtin_then_files_then_presets(make_engine, family_root, models_dir):
    engine = make_engine(model_root=family_root, models_dir=models_dir)
    names = [choice.name for choice in engine.model_choices()]
    assert names == ["builtin", "detail-lora.safetensors", "tiny-sd15.safetensors", "sd15", "ldm-paper"]
    assert engine.describe()["model"] == "builtin"


def test_selecting_a_file_frees_the_old_model_and_writes_its_hash(make_engine, family_root, models_dir):
    engine = make_engine(model_root=family_root, models_dir=models_dir)
    old = weakref.ref(engine.load("text2img").pipe.unet)
    described = engine.select_model("tiny-sd15.safetensors")
    gc.collect()
    assert old() is None, "the previous model must be freed"
    assert described["model"] == "tiny-sd15.safetensors" and described["preset"] == "sd15"
    assert described["loaded"] == ["text2img"]
    result = engine.run(TextToImageRequest(**REQUEST))
    expected = hashlib.sha256((models_dir / "tiny-sd15.safetensors").read_bytes()).hexdigest()[:10]
    assert f"Model hash: {expected}, Model: tiny-sd15," in result.infotexts[0]
    assert result.images[0].size == (64, 64)
    assert engine.hashes.find(expected.upper(), models_dir).name == "tiny-sd15.safetensors"

    engine.select_model("builtin")
    back = engine.run(TextToImageRequest(**REQUEST))
    assert "Model hash" not in back.infotexts[0] and "Model: builtin" in back.infotexts[0]


def test_a_lora_is_refused_and_the_current_model_stays(make_engine, family_root, models_dir):
    engine = make_engine(model_root=family_root, models_dir=models_dir)
    pipe = engine.load("text2img").pipe
    with pytest.raises(ModelNotAvailableError, match=r"detail-lora.safetensors cannot be selected: it is a LoRA"):
        engine.select_model("detail-lora.safetensors")
    assert engine.describe()["model"] == "builtin" and engine.load("text2img").pipe is pipe


def test_unknown_choice_names_the_field_and_the_choices(make_engine, family_root, models_dir):
    engine = make_engine(model_root=family_root, models_dir=models_dir)
    with pytest.raises(InvalidRequestError, match=r"model: must be one of: builtin, .*tiny-sd15.safetensors"):
        engine.select_model("../secrets.safetensors")


def test_a_missing_models_folder_lists_builtin_and_presets(make_engine, family_root, tmp_path):
    engine = make_engine(model_root=family_root, models_dir=tmp_path / "nowhere")
    assert [choice.name for choice in engine.model_choices()] == ["builtin", "sd15", "ldm-paper"]
