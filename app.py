"""Latent Diffusion Studio, the Gradio app: `python app.py --help` lists the flags; importing it loads no model."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import gradio as gr

from ldm_core import Engine, EngineConfig
from ldm_core.presets import PRESETS
from ui import build_demo

logger = logging.getLogger("app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Latent Diffusion Studio: text-to-image, semantic synthesis, "
        "inpainting and x4 super-resolution on one latent diffusion core."
    )
    serve = parser.add_argument_group("serving")
    serve.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    serve.add_argument("--listen", action="store_true", help="listen on 0.0.0.0 (all interfaces), not only loopback")
    serve.add_argument("--port", type=int, default=None, help="port (default 7860, or the next free one)")
    serve.add_argument("--auth", metavar="USER:PASS", help="require this login")
    serve.add_argument("--auth-file", type=Path, metavar="FILE", help="require a login from FILE (user:pass lines)")
    models = parser.add_argument_group("models")
    models.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="builtin",
        help="builtin: the bundled small family; sd15: Stable Diffusion 1.5 + ControlNet-seg + "
        "LDM x4; ldm-paper: the CompVis LDM checkpoints",
    )
    models.add_argument(
        "--model-dir", type=Path, default=None, help="folder of the built-in family (default assets/builtin)"
    )
    models.add_argument("--offline", action="store_true", help="never contact the model hub; use local files only")
    models.add_argument("--outputs", type=Path, default=Path("outputs"), help="where generated PNGs are saved")
    models.add_argument("--no-save", action="store_true", help="do not save generated images to --outputs")
    memory = parser.add_argument_group("device and memory")
    memory.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    memory.add_argument("--dtype", default="auto", choices=["auto", "fp16", "bf16", "fp32"])
    memory.add_argument(
        "--offload",
        default="auto",
        choices=["auto", "none", "model", "sequential"],
        help="model: whole models move to the GPU when used; sequential: layer by layer (least "
        "memory, slowest); auto picks from free GPU memory",
    )
    memory.add_argument("--attention-slicing", action="store_true", help="compute attention in slices (less memory)")
    memory.add_argument("--vae-tiling", action="store_true", help="decode large images tile by tile")
    memory.add_argument("--vae-slicing", action="store_true", help="decode a batch one image at a time")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def engine_config(args: argparse.Namespace) -> EngineConfig:
    return EngineConfig(
        preset=args.preset,
        model_root=args.model_dir,
        device=args.device,
        dtype=args.dtype,
        offload=args.offload,
        attention_slicing=args.attention_slicing,
        vae_tiling=args.vae_tiling,
        vae_slicing=args.vae_slicing,
        outputs_dir=args.outputs,
        save_outputs=not args.no_save,
        offline=args.offline,
    )


def read_auth(args: argparse.Namespace) -> list[tuple[str, str]] | None:
    """Logins from --auth and --auth-file ("user:pass" per line; blank lines and # comments skipped)."""
    lines = [args.auth] if args.auth else []
    if args.auth_file:
        lines += args.auth_file.read_text().splitlines()
    logins = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise SystemExit(f"login {line.split(':')[0]!r}: expected user:pass")
        logins.append((user, password))
    return logins or None


def launch(demo: gr.Blocks, args: argparse.Namespace) -> None:
    """Serve; when --share cannot open its tunnel, say so plainly and keep serving locally."""
    launch_kwargs: dict[str, Any] = {
        "server_name": "0.0.0.0" if args.listen else "127.0.0.1",
        "server_port": args.port,
        "auth": read_auth(args),
        "share": args.share,
        "prevent_thread_lock": True,
    }
    demo.queue(default_concurrency_limit=1)
    _, local_url, share_url = demo.launch(**launch_kwargs)
    if args.share and not share_url:
        logger.warning(
            "No share link: the tunnel to gradio.live could not be made (no network, or the tunnel "
            "binary is missing). The studio is still serving locally at %s",
            local_url,
        )
    demo.block_thread()


# Importing this module builds the UI over a lazy engine: nothing loads until the first request.
demo = build_demo(Engine(EngineConfig()))

if __name__ == "__main__":
    arguments = parse_args()
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    demo = build_demo(Engine(engine_config(arguments)))
    launch(demo, arguments)
    sys.exit(0)
