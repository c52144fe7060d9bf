"""What every training command shares: resumable checkpoints, the recorded config, a loss curve, a time budget."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

logger = logging.getLogger(__name__)


@dataclass
class RunState:
    step: int = 0
    seconds: float = 0.0
    losses: list[tuple[int, float]] | None = None


def save_checkpoint(
    out_dir: Path,
    modules: dict[str, torch.nn.Module],
    optimizer: torch.optim.Optimizer,
    state: RunState,
    config: object,
) -> None:
    """Write `checkpoint.pt` atomically, with the config it was trained with."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "modules": {name: m.state_dict() for name, m in modules.items()},
        "optimizer": optimizer.state_dict(),
        "state": asdict(state),
        "config": asdict(config),
        "torch_rng": torch.get_rng_state(),
    }
    tmp = out_dir / "checkpoint.pt.tmp"
    torch.save(payload, tmp)
    tmp.replace(out_dir / "checkpoint.pt")
    (out_dir / "config.json").write_text(json.dumps(asdict(config), indent=2))


def load_checkpoint(
    out_dir: Path, modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer | None
) -> RunState:
    """Resume from `checkpoint.pt` if present; returns the state to continue from."""
    path = out_dir / "checkpoint.pt"
    if not path.exists():
        return RunState(losses=[])
    payload = torch.load(path, map_location="cpu", weights_only=False)
    for name, module in modules.items():
        module.load_state_dict(payload["modules"][name])
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["torch_rng"])
    state = RunState(**payload["state"])
    logger.info("resumed %s at step %d (%.0f s trained)", out_dir, state.step, state.seconds)
    return state


def plot_losses(out_dir: Path, losses: list[tuple[int, float]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not losses:
        return
    steps, values = zip(*losses, strict=False)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, values, lw=0.8)
    window = max(1, len(values) // 30)
    if window > 1:
        smooth = torch.tensor(values).unfold(0, window, 1).mean(1).tolist()
        ax.plot(steps[window - 1 :], smooth, lw=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out_dir / "loss.png", dpi=100)
    plt.close(fig)


def training_device(name: str = "auto") -> torch.device:
    """The app's device choice (`auto`: the GPU when there is one; a clear error for a device that is not there).
    On CUDA, matmuls and convolutions may use TF32 tensor cores."""
    from ldm_core.memory import resolve_device

    device = resolve_device(name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    logger.info("training on %s", device)
    return device


def autocast_bf16(device: torch.device) -> torch.autocast:
    """bf16 autocast for no-grad encoder passes on training batches: on CUDA, and on CPUs where bf16 is faster."""
    from ldm_core.memory import cpu_bf16_is_faster

    enabled = device.type == "cuda" or (device.type == "cpu" and cpu_bf16_is_faster())
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


class Budget:
    """Stops a run after `max_steps` steps or `max_minutes` of wall time in this process."""

    def __init__(self, max_steps: int, max_minutes: float):
        self.max_steps, self.seconds = max_steps, max_minutes * 60
        self.deadline = time.monotonic() + self.seconds

    def done(self, step: int) -> bool:
        return step >= self.max_steps or time.monotonic() > self.deadline

    def remaining(self) -> float:
        """Fraction of this invocation's time still left, 1 -> 0."""
        return min(1.0, max(0.0, (self.deadline - time.monotonic()) / max(self.seconds, 1e-9)))


def cool_down(optimizer: torch.optim.Optimizer, lr: float, budget: Budget) -> None:
    """Warmup-stable-decay's last phase: a resumed run with `--cooldown` decays the learning rate linearly from `lr` to
    0 over its time budget (a constant-rate run can be continued any time; the cooldown gives the final weights)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * budget.remaining()


class Checkpointer:
    """Every `every` steps and when the budget runs out: count training seconds, save the checkpoint and the curve."""

    def __init__(
        self,
        out_dir: Path,
        modules: dict[str, torch.nn.Module],
        optimizer: torch.optim.Optimizer,
        config: object,
        title: str,
        every: int,
        budget: Budget,
    ):
        self.out_dir, self.modules, self.optimizer, self.config = out_dir, modules, optimizer, config
        self.title, self.every, self.budget = title, every, budget
        self.started = time.monotonic()

    def step(self, state: RunState) -> bool:
        """Save if due; True when it saved (callers add their own extras, e.g. EMA weights)."""
        if state.step % self.every and not self.budget.done(state.step):
            return False
        state.seconds += time.monotonic() - self.started
        self.started = time.monotonic()
        save_checkpoint(self.out_dir, self.modules, self.optimizer, state, self.config)
        plot_losses(self.out_dir, state.losses, self.title)
        return True
