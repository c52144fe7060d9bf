"""Start (or join) Ray, deploy `--replicas` engine replicas on Ray Serve, and hand back a `RemoteEngine`.

Only handles reach the replicas: Serve's HTTP proxy stays off, the Gradio app is the only way in.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from ldm_core import EngineConfig
from ldm_core.errors import StudioError
from ldm_core.presets import resolve_preset

from .options import ServeOptions

logger = logging.getLogger(__name__)
DEPLOYMENT_NAME = "engine"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Shipped to the nodes of a cluster (the code and the built-in family); outputs and caches stay here.
SHIPPED_EXCLUDES = [".git", "outputs", "runs", "cache", "**/__pycache__", "docs", "tests", "benchmarks"]


class ServeStartError(StudioError):
    """Ray or the replicas could not be started; the message says what to change."""


def start_replicas(config: EngineConfig, options: ServeOptions) -> Any:
    """Connect to Ray (or start a private instance), deploy the replicas, wait until they have loaded their models."""
    try:
        resolve_preset(config.preset, config.model_root, config.sources)  # a bad --preset/--source fails here, fast
    except ValueError as error:
        raise ServeStartError(str(error)) from error
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")  # before Ray is imported: every replica's lines stay in the log
    try:
        import ray
        from ray import serve
    except ImportError as error:
        raise ServeStartError(
            "--serve ray needs Ray Serve, which is not installed: pip install -r requirements-serve.txt"
        ) from error
    from .remote import RemoteEngine
    from .replica import EngineReplica

    private = options.address is None
    runtime_env = None if private else {"working_dir": str(PROJECT_ROOT), "excludes": SHIPPED_EXCLUDES}
    try:
        ray.init(
            address="local" if private else options.address,
            include_dashboard=False,
            logging_level=logging.WARNING,
            runtime_env=runtime_env,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ServeStartError(f"--ray-address {options.address}: cannot join that Ray cluster ({error})") from error

    def stop() -> None:
        try:
            if private:
                serve.shutdown()
            else:
                serve.delete(options.app_name)  # the cluster stays; this app's replicas go
        finally:
            ray.shutdown()

    try:
        gpus = _gpus_per_replica(ray.cluster_resources(), options, private)
        serve.start(proxy_location="Disabled")
        deployment = serve.deployment(
            EngineReplica,
            name=DEPLOYMENT_NAME,
            num_replicas=options.replicas,
            max_ongoing_requests=1,  # one job per replica at a time: the others wait in Ray's queue for an idle one
            ray_actor_options={"num_cpus": options.cpus_per_replica, "num_gpus": gpus},
            health_check_period_s=5,
            max_constructor_retry_count=2,
            logging_config={"enable_access_log": False},
        )
        handle = _deploy(serve, deployment.bind(config, options.cpus_per_replica, options.stall_limit_s), options)
        engine = RemoteEngine(handle, config, _serving_line(options, gpus), on_close=stop)
    except BaseException:
        stop()
        raise
    logger.info("engine: %s", engine.serving)
    return engine


def _gpus_per_replica(resources: dict[str, float], options: ServeOptions, private: bool) -> float:
    """The GPUs each replica asks for; on a private instance, refuse up front what this machine cannot hold."""
    gpus = options.gpus_per_replica
    if gpus is None:
        gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
    needed = {"CPU": options.replicas * options.cpus_per_replica, "GPU": options.replicas * gpus}
    for kind, amount in needed.items():
        have = resources.get(kind, 0.0)
        if amount > have:
            message = (
                f"--replicas {options.replicas} need {amount:g} {kind}s (--{kind.lower()}s-per-replica "
                f"{amount / options.replicas:g}) and the Ray cluster has {have:g}"
            )
            if private:
                raise ServeStartError(f"{message}: lower --replicas or the {kind}s per replica")
            logger.warning("%s: the extra replicas wait until the cluster grows", message)
    return gpus


def _deploy(serve: Any, app: Any, options: ServeOptions) -> Any:
    """serve.run in a thread, so that a start that never finishes (no room on the cluster) fails after a time."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["handle"] = serve.run(app, name=options.app_name, route_prefix=None)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, name="serve-deploy", daemon=True)
    thread.start()
    thread.join(options.start_timeout_s)
    if thread.is_alive():
        raise ServeStartError(
            f"the engine replicas did not start within {options.start_timeout_s:.0f} s (the cluster may lack the "
            "CPUs/GPUs they ask for); see the Ray log"
        )
    if "error" in outcome:
        error = outcome["error"]
        logger.error("deploying the engine replicas failed", exc_info=error)
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise ServeStartError(f"the engine replicas failed to start: {lines[-1] if lines else error}") from error
    return outcome["handle"]


def _serving_line(options: ServeOptions, gpus: float) -> str:
    each = f"{options.cpus_per_replica} CPU" + (f" + {gpus:g} GPU" if gpus else "")
    where = "a private Ray instance" if options.address is None else f"Ray at {options.address}"
    return f"Ray Serve, {options.replicas} replica{'s' if options.replicas > 1 else ''} × {each}, on {where}"
