"""The `--serve ray` flags and their checked values; importing this module imports nothing from Ray."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

APP_NAME = "latent-diffusion-studio"  # the Serve application's name on the cluster
SERVE_FLAGS = ("replicas", "ray_address", "gpus_per_replica", "cpus_per_replica")


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    replicas: int = 1
    address: str | None = None  # None: start a private Ray instance on this machine; else ray.init's address
    gpus_per_replica: float | None = None  # None: 1 where the cluster has GPUs, else 0
    cpus_per_replica: int = 1  # Ray CPUs reserved per replica, and its torch threads
    app_name: str = APP_NAME
    start_timeout_s: float = 600.0  # replicas loading their models, a cluster scaling up
    stall_limit_s: float = 300.0  # a replica whose job makes no step for this long is unhealthy and replaced


def _positive_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engine replicas on Ray Serve (optional: pip install -r requirements-serve.txt)")
    group.add_argument(
        "--serve",
        choices=["local", "ray"],
        default="local",
        help="local: one engine in this process (default); ray: --replicas engines on Ray Serve, each with its own "
        "models, fed by this app's queue",
    )
    group.add_argument("--replicas", type=_positive_int, default=None, help="engine replicas with --serve ray (1)")
    group.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="join a running Ray cluster (auto: the one `ray start` made on this machine; or HEAD_IP:6379); "
        "default: start a private Ray instance on this machine",
    )
    group.add_argument(
        "--gpus-per-replica",
        type=_positive_float,
        default=None,
        help="GPUs per replica, may be fractional (default: 1 when the cluster has GPUs, else 0)",
    )
    group.add_argument(
        "--cpus-per-replica",
        type=_positive_int,
        default=None,
        help="CPU cores per replica, and its torch threads (1)",
    )


def serve_options(args: argparse.Namespace) -> ServeOptions | None:
    """The checked options for --serve ray; None for the in-process engine (and the Ray flags then refused)."""
    given = [flag for flag in SERVE_FLAGS if getattr(args, flag) is not None]
    if args.serve != "ray":
        if given:
            names = ", ".join("--" + flag.replace("_", "-") for flag in given)
            raise SystemExit(f"{names}: only with --serve ray (the in-process engine has no replicas)")
        return None
    return ServeOptions(
        replicas=args.replicas or 1,
        address=args.ray_address,
        gpus_per_replica=args.gpus_per_replica,
        cpus_per_replica=args.cpus_per_replica or 1,
    )
