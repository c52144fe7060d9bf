"""LDMSemanticMapPipeline: the class-fraction condition, zero-map guidance, and its input checks."""

from __future__ import annotations

import pytest
import torch

from ldm_core.palette import NUM_CLASSES
from ldm_core.pipelines.semantic_map import label_map_to_condition


def test_condition_is_the_class_fraction_of_each_latent_cell():
    label_map = torch.zeros(1, 4, 4, dtype=torch.long)
    label_map[0, :, 0] = 3  # first column: class 3
    label_map[0, 2:, 2:] = 5  # bottom-right quarter: class 5
    condition = label_map_to_condition(label_map, NUM_CLASSES, factor=2)
    assert condition.shape == (1, NUM_CLASSES, 2, 2) and condition.dtype == torch.float32
    torch.testing.assert_close(condition.sum(1), torch.ones(1, 2, 2))
    assert condition[0, 3, 0, 0] == 0.5 and condition[0, 0, 0, 0] == 0.5
    assert condition[0, 5, 1, 1] == 1.0 and condition[0, 0, 0, 1] == 1.0


def capture_unet_inputs(pipe):
    seen = []
    handle = pipe.unet.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    return seen, handle


@pytest.mark.parametrize(("guidance_scale", "batch"), [(1.0, 1), (3.0, 2)])
def test_guidance_pairs_the_map_with_an_all_zero_condition(engine, guidance_scale, batch):
    pipe = engine.load("semantic").pipe
    label_map = torch.full((1, 32, 32), 2, dtype=torch.long)
    seen, handle = capture_unet_inputs(pipe)
    try:
        output = pipe(label_map=label_map, num_inference_steps=2, guidance_scale=guidance_scale, output_type="np")
    finally:
        handle.remove()
    assert output.images.shape == (1, 32, 32, 3)
    latent_channels = pipe.vae.config.latent_channels
    sample = seen[0]
    assert sample.shape == (batch, latent_channels + NUM_CLASSES, 8, 8)
    condition = sample[:, latent_channels:]
    assert (condition[-1, 2] == 1).all() and condition[-1].sum() == 64
    if batch == 2:
        assert (condition[0] == 0).all()


@pytest.mark.parametrize(
    ("label_map", "message"),
    [
        (torch.zeros(1, 30, 32, dtype=torch.long), "multiples of 16"),
        (torch.full((1, 32, 32), NUM_CLASSES, dtype=torch.long), "ids must be in"),
        (torch.zeros(1, 32, 32), "integer tensor"),
    ],
)
def test_check_inputs_names_the_problem(engine, label_map, message):
    pipe = engine.load("semantic").pipe
    with pytest.raises(ValueError, match=message):
        pipe(label_map=label_map, num_inference_steps=1)
