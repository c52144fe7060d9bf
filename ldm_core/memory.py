"""The one owner of device memory: picks device, dtype and memory mode, and applies them to pipelines."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import time
from dataclasses import dataclass, field

import torch
from diffusers import DiffusionPipeline

from .errors import InvalidRequestError

logger = logging.getLogger(__name__)

DTYPES = {"fp16": torch.float16, "float16": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
DTYPES |= {"fp32": torch.float32, "float32": torch.float32}
OFFLOAD_MODES = ("auto", "none", "model", "sequential")
GIB = 1024**3
AUTO_NONE_MIN_FREE = 8 * GIB  # enough for SD 1.5 fp16 at 512 px with headroom
AUTO_MODEL_MIN_FREE = 4 * GIB


@dataclass
class Runtime:
    """Where and how models run; `notices` explain every automatic choice and every request that was skipped."""

    device: torch.device
    dtype: torch.dtype
    offload: str  # none | model | sequential
    attention_slicing: bool
    vae_tiling: bool
    vae_slicing: bool
    notices: list[str] = field(default_factory=list)
    autocast: torch.dtype | None = None  # CPU: fp32 weights, bf16 compute where it measured faster

    def autocast_context(self) -> contextlib.AbstractContextManager:
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast)

    def describe(self) -> dict[str, object]:
        return {
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "autocast": str(self.autocast).removeprefix("torch.") if self.autocast else None,
            "memory_mode": self.offload,
            "attention_slicing": self.attention_slicing,
            "vae_tiling": self.vae_tiling,
            "vae_slicing": self.vae_slicing,
            "notices": list(self.notices),
        }


def _has_accelerator(device: torch.device) -> bool:
    return device.type == "cuda"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise InvalidRequestError("device", name, "must be auto, cpu, cuda, cuda:N or mps") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidRequestError("device", name, "no CUDA device is available here: use auto or cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise InvalidRequestError("device", name, f"there are only {torch.cuda.device_count()} CUDA devices")
    mps = getattr(torch.backends, "mps", None)
    if device.type == "mps" and (mps is None or not mps.is_available()):
        raise InvalidRequestError("device", name, "MPS is not available here: use auto or cpu")
    return device


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matmuls and convolutions run about twice as fast as fp32 (oneDNN)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


@functools.cache
def cpu_bf16_is_faster() -> bool:
    """Native bf16 and a 3x3 convolution (64 channels, 64x64, channels_last) measured faster under bf16 autocast than
    in fp32, at the current thread count: about 50 ms, once per process. Instructions alone do not decide it: with
    AVX512-BF16 but no AMX, oneDNN's bf16 convolutions can run at half fp32's speed (x4 took 12.2 s against 8.4 s)."""
    if not cpu_has_native_bf16():
        return False
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.randn(1, 64, 64, 64).to(memory_format=torch.channels_last)

    def fastest(bf16: bool) -> float:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            conv(x)  # oneDNN picks and caches its kernel on the first call
            times = []
            for _ in range(5):
                start = time.perf_counter()
                conv(x)
                times.append(time.perf_counter() - start)
        return min(times)

    fp32, bf16 = fastest(False), fastest(True)
    logger.info("3x3 convolution on this CPU: fp32 %.2f ms, bf16 %.2f ms", fp32 * 1e3, bf16 * 1e3)
    return bf16 < 0.9 * fp32


def resolve_runtime(
    device: str, dtype: str, offload: str, attention_slicing: bool, vae_tiling: bool, vae_slicing: bool
) -> Runtime:
    """Device: CUDA > MPS > CPU. Dtype: fp16 on CUDA, fp32 on MPS and CPU (with bf16 autocast on a CPU whose bf16
    convolutions measure faster: up to 2x, images differ by under 1/1000). Offload `auto`: by free VRAM."""
    notices: list[str] = []
    chosen = resolve_device(device)
    autocast = None
    if dtype == "auto":
        torch_dtype = torch.float16 if chosen.type == "cuda" else torch.float32
        if chosen.type == "cpu" and cpu_bf16_is_faster():
            autocast = torch.bfloat16
            notices.append("CPU with fast bf16: fp32 weights, bf16 autocast (--dtype fp32 turns it off)")
        elif chosen.type == "cpu" and cpu_has_native_bf16():
            notices.append("CPU has bf16 instructions, but its bf16 convolutions measured slower than fp32: fp32")
    elif dtype in DTYPES:
        torch_dtype = DTYPES[dtype]
        if chosen.type == "cpu" and torch_dtype != torch.float32:
            notices.append(f"dtype {dtype} on CPU is slow and may be unsupported by some layers; fp32 is the default")
    else:
        raise InvalidRequestError("dtype", dtype, f"must be one of auto, {', '.join(sorted(DTYPES))}")
    if offload not in OFFLOAD_MODES:
        raise InvalidRequestError("offload", offload, f"must be one of {', '.join(OFFLOAD_MODES)}")
    mode = offload
    if not _has_accelerator(chosen):
        if offload != "none":
            notices.append(f"offload {offload} skipped: no CUDA device (CPU offload needs an accelerator)")
        mode = "none"
    elif offload == "auto":
        mode = _auto_offload(chosen, notices)
    return Runtime(chosen, torch_dtype, mode, attention_slicing, vae_tiling, vae_slicing, notices, autocast)


def _auto_offload(device: torch.device, notices: list[str]) -> str:
    try:
        free, _total = torch.cuda.mem_get_info(device)
    except RuntimeError as error:
        notices.append(f"could not read free VRAM ({error}); memory mode none")
        return "none"
    mode = "none" if free >= AUTO_NONE_MIN_FREE else "model" if free >= AUTO_MODEL_MIN_FREE else "sequential"
    notices.append(f"memory mode {mode} picked automatically ({free / GIB:.1f} GiB VRAM free)")
    return mode


def _to_float(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
    return output.float()


def _prepare_for_cpu(pipe: DiffusionPipeline, autocast: bool) -> None:
    """channels_last convolutions (oneDNN's fast layout on CPU); under autocast, decoders hand back fp32 pixels
    (some pipelines call .numpy() on them, which bf16 tensors refuse)."""
    for module in pipe.components.values():
        if not isinstance(module, torch.nn.Module) or getattr(module, "_studio_cpu_ready", False):
            continue
        module.to(memory_format=torch.channels_last)
        decoder = getattr(module, "decoder", None)
        if autocast and isinstance(decoder, torch.nn.Module):
            decoder.register_forward_hook(_to_float)
        module._studio_cpu_ready = True


class MemoryManager:
    """Places pipelines on the device (or installs offload hooks for the pipeline about to run)."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._offloaded: DiffusionPipeline | None = None

    def place(self, pipe: DiffusionPipeline) -> None:
        """Once per new pipeline: memory savers, then device placement (offload hooks are installed in `activate`)."""
        runtime = self.runtime
        if runtime.attention_slicing and hasattr(pipe, "enable_attention_slicing"):
            pipe.enable_attention_slicing()
        vae = getattr(pipe, "vae", None) or getattr(pipe, "vqvae", None)
        for enabled, method in ((runtime.vae_tiling, "enable_tiling"), (runtime.vae_slicing, "enable_slicing")):
            if enabled and vae is not None:
                if hasattr(vae, method):
                    getattr(vae, method)()
                else:
                    logger.info("%s has no %s; skipped", type(vae).__name__, method)
        if runtime.offload == "none" and runtime.device.type != "cpu":  # weights load on the CPU already
            pipe.to(runtime.device)
        if runtime.device.type == "cpu":
            _prepare_for_cpu(pipe, runtime.autocast is not None)

    def activate(self, pipe: DiffusionPipeline) -> None:
        """Before a run: with offload, (re)install this pipeline's hooks (shared modules carry one set of hooks)."""
        if self.runtime.offload == "none" or self._offloaded is pipe:
            return
        if self.runtime.offload == "model":
            pipe.enable_model_cpu_offload(device=self.runtime.device)
        else:
            pipe.enable_sequential_cpu_offload(device=self.runtime.device)
        self._offloaded = pipe

    def free(self) -> None:
        """After an out-of-memory error: drop what can be dropped so the next request starts clean."""
        gc.collect()
        if self.runtime.device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.ipc_collect()
        elif self.runtime.device.type == "mps" and hasattr(torch, "mps"):
            torch.mps.empty_cache()
