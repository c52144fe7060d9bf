"""Single-file checkpoints: the shipped CLIP tokenizer, the original-layout conversion, and what a wrong file says.

Fast: fake state dicts with the real key names (tiny tensors), tiny UNet/VAE/ControlNet round trips. The full-size
file making an image offline from an empty hub cache is in test_fullsize.py.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from ldm_core.errors import ModelNotAvailableError
from ldm_core.requests import TextToImageRequest
from ldm_core.single_file import CONFIG_ROOT, EXPECTED, classify, clip_tokenizer, inspect_checkpoint, model_hash

UNET = "model.diffusion_model."
CROSS = UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
TEXT = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"
VAE = "first_stage_model.decoder.conv_in.weight"


def sd_keys(cross: int = 768, in_channels: int = 4, text: bool = True, vae: bool = True) -> dict[str, tuple]:
    keys = {CROSS: (320, cross), UNET + "input_blocks.0.0.weight": (320, in_channels, 3, 3)}
    keys |= {TEXT: (8, 768)} if text else {}  # the real one has 49,408 rows; only the name is read
    return keys | ({VAE: (512, 4, 3, 3)} if vae else {})


FAKES = {
    "sd15": sd_keys(),
    "sd15_inpaint": sd_keys(in_channels=9),
    "sd15_partial": sd_keys(text=False, vae=False),
    "sd2": {CROSS: (320, 1024), "cond_stage_model.model.token_embedding.weight": (8, 1024), VAE: (512, 4, 3, 3)},
    "sdxl": {
        UNET + "label_emb.0.0.weight": (1280, 2816),
        "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias": (1280,),
    },
    "lora": {
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": (4, 320, 1, 1),
        "lora_unet_down_blocks_0_attentions_0_proj_in.alpha": (),
    },
    "vae": {"encoder.conv_in.weight": (128, 3, 3, 3), "decoder.conv_out.weight": (3, 128, 3, 3)},
    "controlnet": {
        "control_model.input_hint_block.0.weight": (16, 3, 3, 3),
        "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768),
    },
    "unknown": {"down_blocks.0.resnets.0.conv1.weight": (320, 320, 3, 3)},
}


def write_fake(path, shapes: dict[str, tuple]) -> None:
    """The key names and shapes are what is classified; the values are bytes of zeros."""
    save_file({name: torch.zeros(shape, dtype=torch.uint8) for name, shape in shapes.items()}, str(path))


@pytest.mark.parametrize("kind", sorted(FAKES))
def test_classify_by_key_names_and_shapes(kind):
    assert classify(FAKES[kind]).kind == kind


def test_inspect_reads_the_header_only(tmp_path):
    path = tmp_path / "model.safetensors"
    tensors = {CROSS: torch.zeros(320, 768), TEXT: torch.zeros(8, 768), VAE: torch.zeros(2, 4, 3, 3)}
    save_file(tensors, str(path))
    assert inspect_checkpoint(path).kind == "sd15"
    assert len(model_hash(path)) == 10 and int(model_hash(path), 16) >= 0


def test_clip_tokenizer_matches_clip_ids():
    """Ids as openai/clip-vit-large-patch14 (and SD 1.5's tokenizer) give them; 49406/49407 start and end."""
    tokenizer = clip_tokenizer()
    assert len(tokenizer) == 49408 and tokenizer.model_max_length == 77
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokenizer("An astronaut riding a horse").input_ids == [49406, 550, 18376, 6765, 320, 4558, 49407]
    assert tokenizer.pad_token_id == 49407


def test_shipped_configs_describe_sd15():
    import json

    for _kind, folder, _label in EXPECTED.values():
        assert (CONFIG_ROOT / folder).is_dir()
    unet = json.loads((CONFIG_ROOT / "stable-diffusion-v1-5" / "unet" / "config.json").read_text())
    inpaint = json.loads((CONFIG_ROOT / "stable-diffusion-inpainting" / "unet" / "config.json").read_text())
    assert unet["cross_attention_dim"] == 768 and unet["in_channels"] == 4 and inpaint["in_channels"] == 9


@pytest.mark.parametrize(
    ("kind", "named"),
    [
        ("sdxl", "an SDXL checkpoint"),
        ("sd2", "an SD 2.x checkpoint"),
        ("lora", "a LoRA"),
        ("vae", "a VAE on its own"),
        ("sd15_inpaint", "an SD 1.5 inpainting checkpoint"),
        ("unknown", "no Stable Diffusion checkpoint layout"),
    ],
)
def test_a_file_of_another_kind_is_named_with_what_to_do(make_engine, tmp_path, kind, named):
    path = tmp_path / f"{kind}-model.safetensors"
    write_fake(path, FAKES[kind])
    engine = make_engine(preset="sd15", sources={"text2img": str(path)})
    with pytest.raises(ModelNotAvailableError) as caught:
        engine.run(TextToImageRequest(prompt="a tree", width=64, height=64, num_inference_steps=2, seed=1))
    message = str(caught.value)
    assert path.name in message and named in message and "not an SD 1.5 text-to-image checkpoint" in message
    assert "choose" in message or "use it for" in message or "pass the folder" in message
    assert "Traceback" not in message and named in engine.task_status()["text2img"]


def test_a_truncated_file_says_re_download(make_engine, tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x10\x00")
    engine = make_engine(preset="sd15", sources={"text2img": str(path)})
    with pytest.raises(ModelNotAvailableError, match="re-download"):
        engine.load("text2img")


def test_original_layout_round_trips_through_diffusers():
    """The fixture writer's key layout is what diffusers' own converters read back, tensor for tensor."""
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import (
        convert_controlnet_checkpoint,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
    )

    from benchmarks.original_layout import controlnet_to_original, unet_to_original, vae_to_original
    from benchmarks.sd15 import SD15_UNET, SD15_VAE, TINY_OVERRIDES

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**(SD15_UNET | TINY_OVERRIDES["unet"] | {"layers_per_block": 2}))
    vae = AutoencoderKL(**(SD15_VAE | TINY_OVERRIDES["vae"] | {"layers_per_block": 2}))
    controlnet = ControlNetModel.from_unet(unet)
    vae_original = {k.removeprefix("first_stage_model."): v for k, v in vae_to_original(vae.state_dict()).items()}
    cases = [
        (unet, convert_ldm_unet_checkpoint(unet_to_original(unet.state_dict()), dict(unet.config))),
        (vae, convert_ldm_vae_checkpoint(vae_original, dict(vae.config))),
        (controlnet, convert_controlnet_checkpoint(controlnet_to_original(controlnet.state_dict()), controlnet.config)),
    ]
    for model, back in cases:
        state = model.state_dict()
        assert set(back) == set(state)
        assert all(torch.equal(back[name].reshape(tensor.shape), tensor) for name, tensor in state.items())
