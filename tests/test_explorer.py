"""The model explorer's core on the tiny random family: the autoencoder view and edits, the denoising trajectory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_helpers import box_mask, noise_image, two_class_map
from PIL import Image

from ldm_core.errors import InvalidRequestError
from ldm_core.explorer.autoencoder import AutoencoderRequest, LatentEdit, apply_edit, inspect_autoencoder
from ldm_core.explorer.latents import Autoencoder, alphas_cumprod, psnr
from ldm_core.explorer.trajectory import StepRecorder, chosen_steps, record_trajectory
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest

STEPS = 3


# --- autoencoder -----------------------------------------------------------------------------------------------------


def test_autoencoder_shows_each_channel_the_reconstruction_and_the_compression(engine):
    result = inspect_autoencoder(engine, AutoencoderRequest(image=noise_image(70, 90)))
    loaded = engine.load("text2img")
    factor, channels = loaded.vae_factor, loaded.latent_channels
    assert result.image.size == (68, 88)  # cropped to a multiple of f
    assert result.reconstruction.size == result.image.size
    assert len(result.channels) == channels
    assert all(view.low <= view.mean <= view.high for view in result.channels)
    c = result.compression
    assert (c["factor"], c["latent_width"], c["latent_height"]) == (factor, 68 // factor, 88 // factor)
    assert c["value_ratio"] == pytest.approx(3 * factor * factor / channels, rel=0.01)
    assert "68×88×3 pixels" in result.compression_text()
    assert f"→ {68 // factor}×{88 // factor}×{channels} latent" in result.compression_text()
    assert np.isfinite(result.psnr) and result.edited is None


def test_channel_edits_change_exactly_what_they_say():
    latents = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)[:1]
    alpha_bars = torch.linspace(0.999, 0.01, 1000)
    zeroed, _ = apply_edit(latents, LatentEdit(kind="zero", channel=1), alpha_bars)
    assert zeroed[:, 1].abs().sum() == 0 and torch.equal(zeroed[:, 0], latents[:, 0])
    scaled, _ = apply_edit(latents, LatentEdit(kind="scale", channel=2, factor=-0.5), alpha_bars)
    assert torch.equal(scaled[:, 2], latents[:, 2] * -0.5) and torch.equal(scaled[:, 1], latents[:, 1])
    swapped, _ = apply_edit(latents, LatentEdit(kind="swap", channel=0, other=2), alpha_bars)
    assert torch.equal(swapped[:, 0], latents[:, 2]) and torch.equal(swapped[:, 2], latents[:, 0])
    early, note = apply_edit(latents, LatentEdit(kind="noise", timestep=0, seed=3), alpha_bars)
    late, _ = apply_edit(latents, LatentEdit(kind="noise", timestep=999, seed=3), alpha_bars)
    assert "t = 0" in note
    assert (early - latents).abs().mean() < (late - latents).abs().mean()


def test_noise_at_a_timestep_destroys_more_of_the_image_as_t_grows(engine):
    image = noise_image(64, 64, seed=1)
    psnrs = []
    for timestep in (0, 400, 999):
        edit = LatentEdit(kind="noise", timestep=timestep, seed=0)
        result = inspect_autoencoder(engine, AutoencoderRequest(image=image, edit=edit))
        psnrs.append(psnr(result.reconstruction, result.edited))
    assert psnrs[0] > psnrs[1] > psnrs[2]


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (LatentEdit(kind="zero", channel=99), "channel"),
        (LatentEdit(kind="swap", channel=0, other=-1), "other channel"),
        (LatentEdit(kind="scale", factor=float("nan")), "factor"),
        (LatentEdit(kind="noise", timestep=1000), "timestep"),
        (LatentEdit(kind="blur"), "edit"),  # type: ignore[arg-type]
    ],
)
def test_bad_edits_name_the_field(engine, edit, field):
    with pytest.raises(InvalidRequestError) as caught:
        inspect_autoencoder(engine, AutoencoderRequest(image=noise_image(32, 32), edit=edit))
    assert caught.value.field == field


def test_bad_images_name_the_field(engine):
    with pytest.raises(InvalidRequestError, match="image"):
        inspect_autoencoder(engine, AutoencoderRequest(image=None))  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="at least"):
        inspect_autoencoder(engine, AutoencoderRequest(image=noise_image(8, 8)))


def test_large_images_are_scaled_to_the_model_size_with_a_warning(engine):
    native = engine.load("text2img").native_size
    result = inspect_autoencoder(engine, AutoencoderRequest(image=noise_image(native * 3, native * 3)))
    assert result.image.size == (native, native)
    assert any("scaled" in warning for warning in result.warnings)


# --- trajectory ------------------------------------------------------------------------------------------------------


def test_chosen_steps_keep_every_kth_and_the_last():
    assert chosen_steps(5, 2) == [0, 2, 4]
    assert chosen_steps(6, 4) == [0, 4, 5]
    assert chosen_steps(3, 10) == [0, 2]


def test_trajectory_last_frame_is_the_text_to_image_output(engine):
    request = TextToImageRequest(prompt="mountains above a lake", num_inference_steps=5, seed=7, guidance_scale=4.0)
    trajectory = record_trajectory(engine, request, every=2)
    assert [frame.step for frame in trajectory.frames] == [1, 3, 5, 6]
    assert np.array_equal(np.asarray(trajectory.frames[-1].current), np.asarray(trajectory.result.images[0]))
    timesteps = [frame.timestep for frame in trajectory.frames[:-1]]
    assert timesteps == sorted(timesteps, reverse=True)
    levels = [frame.noise_level for frame in trajectory.frames]
    assert levels == sorted(levels, reverse=True) and levels[-1] == 0.0
    # the same request without the recorder gives the same image: recording changes nothing
    again = engine.run(request)
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(trajectory.result.images[0]))


def test_predicted_x0_and_guided_noise_reproduce_the_ddim_update(engine):
    """DDIM (eta 0): x_prev = sqrt(ᾱ_prev) x̂0 + sqrt(1 - ᾱ_prev) ε̂. The recorder's x̂0 (guidance applied) must give
    the next step's input latent exactly as the sampler computed it."""
    request = TextToImageRequest(prompt="trees", num_inference_steps=4, seed=3, guidance_scale=6.0, scheduler="ddim")
    with engine.inspecting("text2img") as loaded:
        recorder = StepRecorder(loaded.denoiser, Autoencoder.of(loaded), loaded, request)
        with recorder:
            engine.run(request)
        alpha_bars = alphas_cumprod(loaded)
    assert len(recorder.steps) == 4 and recorder.decoded is not None
    for now, after in zip(recorder.steps, recorder.steps[1:], strict=False):
        a_now, a_next = alpha_bars[now.timestep], alpha_bars[after.timestep]
        noise = (now.latents - a_now.sqrt() * now.predicted) / (1 - a_now).sqrt()
        expected = a_next.sqrt() * now.predicted + (1 - a_next).sqrt() * noise
        torch.testing.assert_close(after.latents, expected, rtol=1e-4, atol=1e-4)


def test_hooks_are_removed_after_the_run(engine):
    loaded = engine.load("text2img")
    vae = loaded.pipe.vae
    record_trajectory(engine, TextToImageRequest(prompt="sky", num_inference_steps=2, seed=0))
    assert not loaded.denoiser._forward_hooks
    assert "decode" not in vae.__dict__


@pytest.mark.parametrize(
    "request_",
    [
        SemanticMapRequest(color_map=two_class_map(64, 64), num_inference_steps=STEPS, seed=1),
        InpaintRequest(
            image=noise_image(64, 64), mask=box_mask(64, 64, (8, 8, 40, 40)), num_inference_steps=STEPS, seed=1
        ),
        UpscaleRequest(image=noise_image(32, 32), num_inference_steps=STEPS, seed=1),
    ],
    ids=["semantic", "inpaint", "upscale"],
)
def test_trajectory_records_every_tab(engine, request_, tmp_path):
    trajectory = record_trajectory(engine, request_, every=1)
    assert [frame.step for frame in trajectory.frames] == list(range(1, STEPS + 2))
    assert all(frame.current.size == frame.predicted.size for frame in trajectory.frames)
    gif = trajectory.save_animation(tmp_path / "walk.gif")
    webp = trajectory.save_animation(tmp_path / "walk.webp")
    for path in (gif, webp):
        with Image.open(path) as animation:
            assert animation.n_frames == len(trajectory.frames)


def test_semantic_trajectory_output_is_the_tab_output(engine):
    trajectory = record_trajectory(engine, SemanticMapRequest(color_map=two_class_map(64, 64), num_inference_steps=2))
    assert np.array_equal(np.asarray(trajectory.output), np.asarray(trajectory.result.images[0]))


def test_trajectory_rejects_bad_arguments(engine, tmp_path):
    request = TextToImageRequest(prompt="sky", num_inference_steps=2, seed=0)
    with pytest.raises(InvalidRequestError, match="every"):
        record_trajectory(engine, request, every=0)
    with pytest.raises(InvalidRequestError, match="request"):
        record_trajectory(engine, "a prompt")  # type: ignore[arg-type]
    trajectory = record_trajectory(engine, request)
    with pytest.raises(InvalidRequestError, match="animation format"):
        trajectory.save_animation(tmp_path / "walk.mp4")


def test_a_cancelled_recording_raises_and_leaves_the_models_as_they_were(engine):
    import threading

    from ldm_core.errors import CancelledError
    from ldm_core.explorer.attention import attention_maps

    cancel = threading.Event()
    cancel.set()
    loaded = engine.load("text2img")
    processors = loaded.denoiser.attn_processors
    request = TextToImageRequest(prompt="sky", num_inference_steps=2, seed=0)
    with pytest.raises(CancelledError):
        record_trajectory(engine, request, cancel=cancel)
    with pytest.raises(CancelledError):
        attention_maps(engine, request, cancel=cancel)
    assert not loaded.denoiser._forward_hooks and "decode" not in loaded.pipe.vae.__dict__
    assert all(loaded.denoiser.attn_processors[name] is processors[name] for name in processors)
