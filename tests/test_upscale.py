"""x4 upscaling: a one-tile image matches the untiled pipeline; larger images tile without seams."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_helpers import STEPS, noise_image, pixels

from ldm_core.pipelines.super_resolution import back_project
from ldm_core.requests import UpscaleRequest
from ldm_core.tasks.upscale import vae_tiled
from ldm_core.tiling import count_tiles, image_to_tensor, tile_starts, upscale_tiled


@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_one_tile_image_matches_the_untiled_pipeline(engine, strength):
    image = noise_image(32, 32, seed=4)
    request = UpscaleRequest(
        image=image,
        tile_size=32,
        num_inference_steps=4,
        seed=11,
        strength=strength,
        back_project=False,
        scheduler="ddim",
    )
    tiled = engine.run(request)
    pipe = engine.load("upscale").pipe  # its scheduler is the DDIM one the engine just used
    with vae_tiled(pipe.vqvae), torch.inference_mode():  # as the engine runs it
        untiled = pipe(
            image=image_to_tensor(image),
            strength=strength,
            num_inference_steps=4,
            output_type="np",
            generator=torch.Generator().manual_seed(11),
        ).images[0]
    untiled = (untiled.astype(np.float64) * 255).round().clip(0, 255)  # rounded as the task rounds (float64)
    assert tiled.images[0].size == (128, 128) and untiled.shape == (128, 128, 3)
    np.testing.assert_array_equal(pixels(tiled.images[0]), untiled)


@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_the_pipeline_samples_on_its_execution_device_not_on_self_device(engine, monkeypatch, strength):
    """Under model offload `self.device` is the CPU and under sequential offload the meta device, while the UNet runs
    on the GPU (accelerate's hooks): the latents belong on `_execution_device` (a bug seen on an H200)."""
    pipe = engine.load("upscale").pipe
    cls = type(pipe)
    monkeypatch.setattr(cls, "device", property(lambda self: torch.device("meta")))
    monkeypatch.setattr(cls, "_execution_device", property(lambda self: torch.device("cpu")))
    out = pipe(image=image_to_tensor(noise_image(32, 32)), strength=strength, num_inference_steps=2, output_type="np")
    assert out.images[0].shape == (128, 128, 3) and np.isfinite(out.images[0]).all()


def test_strength_starts_from_the_input_and_runs_part_of_the_schedule(engine):
    events = []
    image = noise_image(32, 32, seed=4)
    engine.run(UpscaleRequest(image=image, num_inference_steps=4, strength=0.5, seed=1), progress=events.append)
    steps = [event.step for event in events]
    assert events[-1].total_steps == 2 and max(steps) == 2


def downsample(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    return torch.nn.functional.interpolate(x, size=size, mode="bicubic", antialias=True)[0].permute(1, 2, 0).numpy()


def test_back_projection_takes_low_frequencies_from_the_input_and_keeps_the_detail():
    rng = np.random.default_rng(0)
    low = rng.uniform(0.2, 0.8, (16, 24, 3))
    drifted = np.clip(np.kron(low, np.ones((4, 4, 1))) * 0.5 + 0.4, 0, 1)  # right layout, wrong colours
    fixed = back_project(drifted, low)
    before, after = np.abs(downsample(drifted, (16, 24)) - low).mean(), np.abs(downsample(fixed, (16, 24)) - low).mean()
    assert fixed.shape == (64, 96, 3) and after < before / 4
    detail = np.tile(np.array([[0.1, -0.1], [-0.1, 0.1]]), (32, 48))[..., None].repeat(3, -1)  # no low band
    flat = np.full((16, 24, 3), 0.5)
    np.testing.assert_allclose(back_project(0.5 + detail, flat), 0.5 + detail, atol=0.02)
    np.testing.assert_allclose(back_project(np.full((64, 96, 3), 0.5), flat), 0.5, atol=1e-6)


def test_back_projection_brings_the_upscale_closer_to_its_input(engine):
    image = noise_image(32, 32, seed=4)
    low = pixels(image) / 255.0
    errors = {}
    for flag in (False, True):
        result = engine.run(UpscaleRequest(image=image, num_inference_steps=4, seed=3, back_project=flag))
        errors[flag] = np.abs(downsample(pixels(result.images[0]) / 255.0, (32, 32)) - low).mean()
        assert ("Back-projection: on" in result.infotexts[0]) is flag
    assert errors[True] < errors[False] / 2


def nearest_x4(tile: torch.Tensor) -> np.ndarray:
    """A stand-in upscaler with a known answer: nearest-neighbour x4 of the tile, in [0, 1]."""
    rgb = ((tile[0].permute(1, 2, 0).numpy() + 1) / 2).astype(np.float64)
    return rgb.repeat(4, axis=0).repeat(4, axis=1)


@pytest.mark.parametrize(("width", "height", "tile", "overlap"), [(50, 37, 16, 4), (70, 20, 32, 8), (12, 10, 16, 4)])
def test_tiles_blend_back_into_the_whole_image_without_seams(width, height, tile, overlap):
    image = noise_image(width, height, seed=5)
    calls = []

    def upscaler(tile_tensor: torch.Tensor) -> np.ndarray:
        calls.append(tuple(tile_tensor.shape))
        return nearest_x4(tile_tensor)

    blended = upscale_tiled(image, tile, overlap, 4, upscaler)
    whole = np.asarray(image).astype(np.float64).repeat(4, axis=0).repeat(4, axis=1) / 255
    assert blended.shape == (height * 4, width * 4, 3)
    np.testing.assert_allclose(blended, whole, atol=1e-6)
    assert len(calls) == count_tiles(max(width, tile), max(height, tile), tile, overlap)
    assert set(calls) == {(1, 3, tile, tile)}  # every tile is full size (edge tiles are shifted, small images padded)


def test_tile_starts_cover_the_axis_with_the_requested_overlap():
    starts = tile_starts(50, 16, 4)
    assert starts[0] == 0 and starts[-1] == 50 - 16
    assert all(later - earlier <= 12 for earlier, later in zip(starts, starts[1:], strict=False))


def test_larger_image_is_tiled_and_reports_every_step(engine):
    events = []
    request = UpscaleRequest(
        image=noise_image(40, 24), tile_size=16, tile_overlap=4, num_inference_steps=STEPS, seed=1, strength=1.0
    )
    result = engine.run(request, progress=events.append)
    assert result.images[0].size == (160, 96)
    tiles = count_tiles(40, 24, 16, 4)
    assert tiles > 1 and events[-1].total_steps == STEPS * tiles
    assert "Tile size: 16" in result.infotexts[0] and "CFG scale" not in result.infotexts[0]


def test_automatic_tile_is_no_bigger_than_the_image_and_at_most_128(engine):
    small = engine.run(UpscaleRequest(image=noise_image(20, 16), num_inference_steps=2, seed=1))
    assert "Tile size: 32," in small.infotexts[0]  # the model's native tile: a small input is not padded to 128
    wide = engine.run(UpscaleRequest(image=noise_image(44, 20), num_inference_steps=2, seed=1))
    assert "Tile size: 48," in wide.infotexts[0]
