"""Single-file checkpoints (A1111 / civitai `.safetensors`) offline: what a file is, and what `from_single_file` needs.

diffusers' `from_single_file` fetches each architecture's configs and the CLIP tokenizer from the hub. The studio
ships them instead: the SD 1.5, SD 1.5 inpainting and ControlNet v1.1 configs under `assets/configs/`, and the CLIP
BPE vocabulary under `assets/clip/` (from open-clip-torch, MIT licence), from which the SD 1.5 tokenizer is rebuilt.
A file is classified from its key names and shapes (the header only, no weights read) before anything loads, so a
file of another kind (SDXL, SD 2.x, a LoRA, a VAE alone) fails with a message that names it and says what to do.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelNotAvailableError

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
CONFIG_ROOT = ASSETS / "configs"
CLIP_BPE = ASSETS / "clip" / "bpe_simple_vocab_16e6.txt.gz"
CLIP_MERGES = 49152 - 256 - 2  # the vocabulary CLIP was trained with: 48,894 merges, 49,408 tokens in all
CLIP_MAX_TOKENS = 77
HASH_CHUNK = 1 << 20

UNET = "model.diffusion_model."
SD1_CROSS_KEY = UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
SD_IN_KEY = UNET + "input_blocks.0.0.weight"
SD1_TEXT_KEY = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"
SD2_TEXT_PREFIX = "cond_stage_model.model."
SDXL_PREFIX = "conditioner.embedders."
VAE_PREFIX = "first_stage_model."
CONTROLNET_KEYS = ("control_model.input_hint_block.0.weight", "input_hint_block.0.weight")
CONTROLNET_CROSS_KEYS = (
    "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
    "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
)
LORA_MARKERS = ("lora_down", "lora_up", "lora_A.", "lora_B.", "lora.down", "lora.up", "hada_w", "lokr_w")

# What each loader expects, the shipped config folder that describes it, and its plain name.
EXPECTED = {
    "StableDiffusionPipeline": ("sd15", "stable-diffusion-v1-5", "an SD 1.5 text-to-image checkpoint"),
    "StableDiffusionInpaintPipeline": (
        "sd15_inpaint",
        "stable-diffusion-inpainting",
        "an SD 1.5 inpainting checkpoint",
    ),
    "ControlNetModel": ("controlnet", "control_v11p_sd15_seg", "an SD 1.5 ControlNet"),
}
CHOOSE_SD15 = "choose an SD 1.5-class checkpoint (a .safetensors of about 2 or 4 GB made for SD 1.x)"
# kind -> (what the file is, what to do with it)
KINDS = {
    "sd15": ("an SD 1.5 text-to-image checkpoint", "use it for text-to-image (--source text2img=FILE)"),
    "sd15_inpaint": (
        "an SD 1.5 inpainting checkpoint (9 input channels)",
        "use it for inpainting (--source inpaint=FILE)",
    ),
    "controlnet": ("an SD 1.5 ControlNet", "use it for the semantic-map task (--source semantic=FILE)"),
    "controlnet_other": ("a ControlNet for another base model", "choose an SD 1.5 ControlNet (control_v11p_sd15_*)"),
    "sd15_partial": (
        "an SD 1.5 UNet without its autoencoder or text encoder",
        "choose a full checkpoint that includes them",
    ),
    "sdxl": ("an SDXL checkpoint (two text encoders, 1024 px)", f"this studio runs SD 1.5-class models: {CHOOSE_SD15}"),
    "sd2": (
        "an SD 2.x checkpoint (OpenCLIP text encoder; the 768 px models predict v)",
        f"this studio runs SD 1.5-class models: {CHOOSE_SD15}",
    ),
    "lora": ("a LoRA (a small add-on that patches a base model)", f"LoRAs are not supported; {CHOOSE_SD15}"),
    "vae": ("a VAE on its own (no UNet, no text encoder)", f"{CHOOSE_SD15}, which includes its VAE"),
    "unknown": (
        "a file whose keys match no Stable Diffusion checkpoint layout (original CompVis / A1111)",
        f"for a diffusers folder, pass the folder itself; otherwise {CHOOSE_SD15}",
    ),
}


@dataclass(frozen=True)
class CheckpointInfo:
    kind: str  # sd15, sd15_inpaint, controlnet, controlnet_other, sd15_partial, sdxl, sd2, lora, vae, unknown
    tensors: int

    @property
    def description(self) -> str:
        return KINDS[self.kind][0]

    @property
    def advice(self) -> str:
        return KINDS[self.kind][1]


def read_shapes(path: Path | str) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a .safetensors header (8-byte length + JSON), without reading any weights."""
    with open(path, "rb") as file:
        size_bytes = file.read(8)
        if len(size_bytes) != 8:
            raise ValueError("the file is too short to be a .safetensors file")
        (size,) = struct.unpack("<Q", size_bytes)
        if size > 100_000_000:
            raise ValueError("the file's header is not a .safetensors header")
        header = json.loads(file.read(size))
    return {name: tuple(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}


def classify(shapes: dict[str, tuple[int, ...]]) -> CheckpointInfo:
    """What a checkpoint is, from its key names and shapes (the original CompVis / A1111 layout)."""
    names = shapes.keys()

    def kind() -> str:
        if any(name.startswith("lora_") or any(marker in name for marker in LORA_MARKERS) for name in names):
            return "lora"
        if any(name.startswith(SDXL_PREFIX) for name in names):
            return "sdxl"
        if any(key in shapes for key in CONTROLNET_KEYS):
            cross = next((shapes[key] for key in CONTROLNET_CROSS_KEYS if key in shapes), ())
            return "controlnet" if cross[-1:] == (768,) else "controlnet_other"
        if SD1_CROSS_KEY in shapes:
            if shapes[SD1_CROSS_KEY][-1] != 768 or any(name.startswith(SD2_TEXT_PREFIX) for name in names):
                return "sd2"
            has_parts = SD1_TEXT_KEY in shapes and any(name.startswith(VAE_PREFIX) for name in names)
            if not has_parts:
                return "sd15_partial"
            return "sd15_inpaint" if shapes.get(SD_IN_KEY, (0, 0))[1:2] == (9,) else "sd15"
        if any(name.startswith(("encoder.", "decoder.", VAE_PREFIX)) for name in names):
            return "vae"
        return "unknown"

    return CheckpointInfo(kind(), len(shapes))


def inspect_checkpoint(path: Path | str) -> CheckpointInfo:
    """Classify a .safetensors file (header only); a .ckpt (pickle) is read with torch.load(weights_only=True)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return classify(read_shapes(path))
    import torch

    loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else {}
    return classify({name: tuple(value.shape) for name, value in state.items() if hasattr(value, "shape")})


def single_file_options(cls: Any, path: str, what: str, passed: dict[str, Any]) -> dict[str, Any]:
    """The offline `from_single_file` options for `cls`: the shipped config folder and, where needed, the tokenizer.

    Raises ModelNotAvailableError when the file is not the kind `cls` loads, naming what it is instead.
    """
    expected = EXPECTED.get(cls.__name__)
    if expected is None:
        return {}
    kind, folder, label = expected
    try:
        info = inspect_checkpoint(path)
    except (OSError, ValueError, RuntimeError) as error:  # unreadable header, bad pickle
        logger.warning("could not read %s", path, exc_info=True)
        raise ModelNotAvailableError(
            f"{what} is not available: {path} could not be read as a checkpoint ({error}); "
            "check that the file is complete (re-download it) and is a .safetensors checkpoint."
        ) from error
    if info.kind != kind:
        raise ModelNotAvailableError(
            f"{what} is not available: {Path(path).name} is {info.description}, not {label}; {info.advice}."
        )
    options: dict[str, Any] = {"config": str(CONFIG_ROOT / folder)}
    if kind in ("sd15", "sd15_inpaint") and "tokenizer" not in passed:
        options["tokenizer"] = clip_tokenizer()
    return options


@functools.lru_cache(maxsize=1)
def clip_tokenizer() -> Any:
    """SD 1.x's tokenizer (CLIP ViT-L/14, 77 tokens), rebuilt from the shipped BPE merges exactly as CLIP builds it:
    the 256 byte symbols, the same with an end-of-word mark, one token per merge, then the two special tokens."""
    from transformers import CLIPTokenizer

    lines = gzip.open(CLIP_BPE).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : CLIP_MERGES + 1]]
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [symbol + "</w>" for symbol in symbols] + ["".join(merge) for merge in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CLIP_MAX_TOKENS)


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's (and GPT-2's) reversible byte -> printable character table."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(code) for code in codes), strict=True))


def model_hash(path: Path | str) -> str:
    """A1111's `Model hash:`: the first 10 hex digits of the file's sha256."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:10]
