"""Training-side pieces of the zero-SNR recipe: resampled captions name only what the scene holds, the training
schedule reaches zero SNR at t=999, and export writes the run's schedule for the samplers."""

from __future__ import annotations

import numpy as np

from ldm_core.palette import CLASS_ID
from ldm_train.data.dataset import render_scenes
from ldm_train.data.scenes import _TIME_PHRASES, ATTRIBUTE_CLASSES, ATTRIBUTES, TIMES
from ldm_train.export import run_sampling
from ldm_train.latents import scene_labels
from ldm_train.unet import UNetConfig, region_caption, resample_caption, training_scheduler

# caption words that name one thing only -> the generator's attribute flag ("mountain" is left out: "a mountain lake")
WORD_ATTRIBUTE = {"house": "house", "road": "road", "beach": "sand", "forest": "trees", "trees": "trees"}
WORD_ATTRIBUTE |= {"wheat": "field", "fields": "field", "wildflowers": "flower", "flowers": "flower", "snow": "snow"}
WORD_ATTRIBUTE |= {"sea": "water", "ocean": "water", "lake": "water", "river": "water", "stream": "water"}


def test_resampled_captions_vary_and_name_only_what_the_scene_holds():
    scenes = render_scenes(12, workers=1)
    labels, rng = scene_labels(scenes), np.random.default_rng(0)
    for i in range(len(scenes)):
        captions = [resample_caption(labels, i, rng) for _ in range(6)]
        assert len(set(captions)) > 1, captions
        holds = {name for name, flag in zip(ATTRIBUTES, scenes.attributes[i], strict=True) if flag}
        phrases = _TIME_PHRASES[TIMES[scenes.times[i]]]
        for caption in captions:
            assert any(phrase in caption.lower() for phrase in phrases), caption
            words = set(caption.lower().replace(",", " ").split())
            named = {attribute for word, attribute in WORD_ATTRIBUTE.items() if word in words}
            assert named <= holds, (caption, holds)


def test_region_captions_name_only_what_lies_under_the_mask():
    """Inpainting's mask captions: every named thing covers at least a tenth of the mask, and the time of day stays."""
    scenes = render_scenes(12, workers=1)
    labels, rng = scene_labels(scenes), np.random.default_rng(0)
    regional = 0
    for i in range(len(scenes)):
        label_map, phrases = scenes.label_maps[i], _TIME_PHRASES[TIMES[scenes.times[i]]]
        for top in (0, 64):
            mask = np.zeros(label_map.shape, dtype=bool)
            mask[top : top + 64, 32:96] = True
            share = np.bincount(label_map[mask], minlength=256) / mask.sum()
            shown = {
                name for name, classes in ATTRIBUTE_CLASSES.items() if sum(share[CLASS_ID[c]] for c in classes) >= 0.1
            }
            caption = region_caption(labels, label_map, mask, i, rng)
            assert any(phrase in caption.lower() for phrase in phrases), caption
            named = {
                attribute
                for word, attribute in WORD_ATTRIBUTE.items()
                if word in caption.lower().replace(",", " ").split()
            }
            whole = {name for name, flag in zip(ATTRIBUTES, scenes.attributes[i], strict=True) if flag}
            if named - shown:  # named beyond the mask: only the whole scene's caption (nothing nameable under it)
                assert not (shown & whole) - {"clouds"}, (caption, shown)
            regional += named <= shown and bool(named)
    assert regional >= 6  # most masks over the ground hold something a phrase names


def test_the_zero_snr_training_schedule_and_the_exported_one():
    schedule = training_scheduler(UNetConfig(prediction_type="v_prediction", zero_snr=True))
    assert float(schedule.alphas_cumprod[-1]) < 1e-6  # x_999 is pure noise
    assert float(training_scheduler(UNetConfig()).alphas_cumprod[-1]) > 1e-3  # the shared schedule leaks
    config = {"prediction_type": "v_prediction", "zero_snr": True, "timestep_spacing": "trailing"}
    scheduler, rescale = run_sampling(config | {"guidance_rescale": 0.7})
    assert rescale == 0.7 and scheduler.config.rescale_betas_zero_snr
    assert scheduler.config.prediction_type == "v_prediction" and scheduler.config.timestep_spacing == "trailing"
    assert run_sampling({"prediction_type": "epsilon"}) == (None, 0.0)  # the shared schedule: nothing to write
