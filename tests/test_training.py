"""The built-in family's recipe end to end at the `tiny` preset: scenes, every training stage, export, and the engine
loading what was trained. Plus the evaluation metrics on cases with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from engine_helpers import scene_requests

from ldm_core.palette import CLASS_ID, NUM_CLASSES
from ldm_train.data.scenes import ATTRIBUTES, TIMES, render_scene
from ldm_train.evaluation.report import blur_fill, caption_attributes, frechet_distance, psnr
from ldm_train.evaluation.segmenter import mean_iou


def test_scenes_are_deterministic_and_labelled():
    a, b, c = render_scene(7), render_scene(7), render_scene(8)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.label_map, b.label_map) and a.caption == b.caption
    assert not np.array_equal(a.image, c.image)
    assert a.image.shape == (128, 128, 3) and a.image.dtype == np.uint8
    assert a.label_map.shape == (128, 128) and a.label_map.max() < NUM_CLASSES
    assert a.time in TIMES and set(a.attributes) == set(ATTRIBUTES)
    assert CLASS_ID["sky"] in np.unique(a.label_map)


def test_scene_variety_covers_every_class_and_time():
    scenes = [render_scene(seed) for seed in range(60)]
    classes = set(np.unique(np.stack([s.label_map for s in scenes])).tolist())
    assert classes == set(range(NUM_CLASSES)), f"missing classes: {set(range(NUM_CLASSES)) - classes}"
    assert {s.time for s in scenes} == set(TIMES)
    assert len({s.caption for s in scenes}) == len(scenes)


def test_metrics_on_known_cases():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, NUM_CLASSES, (4, 16, 16))
    assert mean_iou(labels, labels) == 1.0
    assert mean_iou((labels + 1) % NUM_CLASSES, labels) == 0.0
    features = rng.normal(size=(200, 8))
    assert frechet_distance(features, features) < 1e-6
    assert frechet_distance(features, features + 3.0) == pytest.approx(72.0, rel=1e-3)
    image = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), bool)
    mask[8:16, 8:16] = True
    filled = blur_fill(image, mask, iterations=5)
    assert np.array_equal(filled[~mask], image[~mask])
    assert psnr(image, image) > 90
    assert caption_attributes("snowy mountains above a lake at sunset") == ("sunset", ["water", "mountain"])


def test_tiny_preset_trains_every_stage_and_the_engine_runs_it(tmp_path: Path, make_engine):
    from ldm_train.train_all import train_all

    family = train_all("tiny", tmp_path / "runs", tmp_path / "family", tmp_path / "cache")
    for folder in ("vae", "text_encoder", "tokenizer", "unet", "unet_inpaint", "unet_semantic", "unet_upscale"):
        assert (family / folder).is_dir(), folder
    assert (tmp_path / "runs" / "autoencoder" / "config.json").exists()
    assert (tmp_path / "runs" / "unet_text" / "loss.png").exists()

    engine = make_engine(model_root=family)
    requests = scene_requests(3)
    for request in requests:
        result = engine.run(request)
        assert result.images[0].size == (128, 128)


def test_attribute_score_rewards_matching_captions():
    from ldm_train.evaluation.report import attribute_score

    scenes = [render_scene(seed) for seed in range(40)]
    captions = [s.caption for s in scenes]
    maps = np.stack([s.label_map for s in scenes])
    times = np.array([TIMES.index(s.time) for s in scenes])
    truth = attribute_score(captions, maps, times)
    shuffled = attribute_score(captions[1:] + captions[:1], maps, times)
    assert truth >= 0.9, truth  # the scenes' own maps and times satisfy their captions
    assert shuffled < truth - 0.2, (truth, shuffled)


def test_cooldown_decays_the_learning_rate_linearly_to_zero_over_the_time_budget():
    import time

    import torch

    from ldm_train.common import Budget, cool_down

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    budget = Budget(max_steps=10, max_minutes=0.01)  # 0.6 s
    cool_down(optimizer, 0.5, budget)
    assert 0.4 < optimizer.param_groups[0]["lr"] <= 0.5
    time.sleep(0.7)
    cool_down(optimizer, 0.5, budget)
    assert optimizer.param_groups[0]["lr"] == 0.0 and budget.done(0)


def test_pyramid_noise_has_unit_variance_and_hides_regional_means():
    """White noise over a 32x32 latent leaves a region's mean almost noiseless (what leaks a sky's colour through x_t);
    pyramid noise at discount 0.4 gives a half-image mean twice the noise and keeps the white part at unit variance."""
    import torch

    from ldm_train.unet import pyramid_noise

    like = torch.zeros(256, 3, 32, 32)
    noise = pyramid_noise(like, 0.4, np.random.default_rng(0))
    white = torch.randn_like(like)
    high_pass = noise - torch.nn.functional.avg_pool2d(noise, 3, 1, 1)  # what is left of the white part
    assert noise.shape == like.shape and 1.0 < noise.std().item() < 1.2
    assert abs(high_pass.std() / (white - torch.nn.functional.avg_pool2d(white, 3, 1, 1)).std() - 1) < 0.05
    top_half_mean = noise[..., :16, :].mean((2, 3)).std().item()
    assert top_half_mean > 2 * white[..., :16, :].mean((2, 3)).std().item()


def test_cross_attention_heads_have_32_channels_and_the_pooled_text_branch_starts_silent():
    import torch

    from ldm_core.models import make_unet_text

    unet = make_unet_text(128)
    heads = {m.inner_dim // m.heads for name, m in unet.named_modules() if name.endswith(("attn1", "attn2"))}
    assert heads == {32}
    sample, timestep = torch.randn(2, 3, 32, 32), torch.tensor([500, 500])
    with torch.no_grad():
        a = unet(sample, timestep, encoder_hidden_states=torch.randn(2, 32, 128)).sample
        b = unet(sample, timestep, encoder_hidden_states=torch.randn(2, 32, 128) * 0).sample
        pooled = unet.add_embedding(torch.randn(2, 32, 128))
    assert torch.count_nonzero(pooled) == 0 and not torch.allclose(a, b)  # cross-attention still hears the text
