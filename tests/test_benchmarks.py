"""The benchmark command on the tiny random family, one timed run each: the record has every section and key.

Only the shape of the record is checked, never a timing (timings belong in benchmarks/results.jsonl).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks import process_bench, report, sd15
from benchmarks.common import TASKS
from benchmarks.run import parse_args, run_benchmarks

TIMING_KEYS = {"median_s", "min_s", "max_s", "runs_s", "median_cpu_s"}


@pytest.fixture(scope="module")
def record(family_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    args = parse_args(
        ["--family", str(family_root), "--quick", "--repeats", "1", "--threads", "1"]
        + ["--skip-memory", "--skip-cold-start", "--skip-cpu-sd15"]
    )
    return run_benchmarks(args, tmp_path_factory.mktemp("scratch"))


def test_record_has_every_section(record: dict):
    expected = {"date", "hardware", "git", "load_average", "family", "settings", "latency", "steps_sweep", "overhead"}
    assert expected | {"peak_memory", "cold_start", "cpu_sd15", "gpu"} <= set(record)
    hardware_keys = {"cpu_model", "logical_cores", "ram_gib", "torch", "diffusers", "load_average", "nice"}
    assert hardware_keys <= set(record["hardware"])
    assert {"start", "end"} <= set(record["load_average"])
    assert {"commit", "dirty"} <= set(record["git"])
    assert record["family"]["built_now"] is False and record["family"]["random_weights"] is True


def test_latency_per_task_and_against_steps(record: dict):
    assert set(record["latency"]) == set(TASKS)
    for latency in record["latency"].values():
        assert TIMING_KEYS | {"steps", "output_size"} <= set(latency)
        assert len(latency["runs_s"]) == 1
    sweep = record["steps_sweep"]
    assert [point["steps"] for point in sweep["points"]] == [5, 10, 25]
    assert {"seconds_per_step", "fixed_seconds"} <= set(sweep)


def test_overhead_compares_engine_and_bare_diffusers_on_the_same_image(record: dict):
    overhead = record["overhead"]
    assert TIMING_KEYS <= set(overhead["engine"]) and TIMING_KEYS <= set(overhead["bare_diffusers"])
    assert {"ratio", "median_pair_ratio", "cpu_ratio", "goal"} <= set(overhead)
    assert overhead["same_image"] is True  # the bare call really is the same computation


def test_skipped_sections_say_why(record: dict):
    assert record["peak_memory"] == {"skipped": "--skip-memory"}
    assert record["cold_start"] == {"skipped": "--skip-cold-start"}
    assert record["cpu_sd15"] == {"skipped": "--skip-cpu-sd15"}
    if not torch.cuda.is_available():
        assert record["gpu"] == {"skipped": "no CUDA"}


def test_table_plot_and_results_line(record: dict, tmp_path: Path):
    text = report.format_record(record)
    assert "text2img" in text and "Engine overhead" in text and "GPU: skipped: no CUDA" in text
    assert report.plot_latency(record, tmp_path / "latency.png").stat().st_size > 0
    results = tmp_path / "results.jsonl"
    report.append_record(record, results)
    report.append_record(record, results)
    lines = results.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["latency"].keys() == record["latency"].keys()


def test_a_missing_family_builds_a_tiny_one_and_says_so(tmp_path: Path):
    from benchmarks.common import resolve_family

    family = resolve_family(tmp_path / "nowhere", tmp_path)
    assert family.built_now and family.random_weights and "TINY RANDOM" in family.note
    assert (family.path / "family.json").exists()


def test_peak_memory_probe_runs_in_its_own_process(family_root: Path):
    memory = process_bench.peak_memory(family_root, ("text2img",))
    assert {"peak_rss_mib", "rss_after_import_mib", "rss_after_load_mib", "rss_after_run_mib"} <= set(
        memory["text2img"]
    )


def test_sd15_builder_and_step_timer_on_a_tiny_copy():
    result = sd15.cpu_sd15(steps=2, size=64, overrides=sd15.TINY_OVERRIDES)
    assert {"seconds_per_step", "cpu_seconds_per_step", "it_per_s", "call_s", "params_m", "size"} <= set(result)
    assert result["tiny"] is True


def test_sd15_configs_build_the_published_architecture():
    """Parameter counts of stable-diffusion-v1-5's UNet, VAE and CLIP text encoder (built on the meta device)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device("meta"):
        models = {
            "unet": UNet2DConditionModel(**sd15.SD15_UNET),
            "vae": AutoencoderKL(**sd15.SD15_VAE),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**sd15.SD15_TEXT)),
        }
    counts = {name: sum(p.numel() for p in model.parameters()) for name, model in models.items()}
    assert counts == {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480}
