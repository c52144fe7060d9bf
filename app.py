"""Latent Diffusion Studio, the Gradio app: `python app.py --help` lists the flags; importing it loads no model."""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gradio as gr

from ldm_core import Engine, EngineConfig
from ldm_core.errors import StudioError
from ldm_core.limits import Limits
from ldm_core.presets import PRESETS
from ldm_serve.options import add_serve_arguments, serve_options
from ui import build_demo
from ui.cache_dir import use_own_cache

logger = logging.getLogger("app")

GENERATED_USER = "studio"
LIMIT_FLAGS = {  # Limits field -> help; each is a --max-... flag whose default is the field's default
    "max_steps": "denoising steps per image",
    "max_batch": "images per request",
    "max_pixels": "output pixels per request (width x height x batch; x16 for super-resolution)",
    "max_prompt_chars": "characters in a prompt or negative prompt",
    "max_size": "text-to-image width and height",
    "max_image_side": "input image side (inpainting, semantic maps); Pillow refuses files past twice its square",
    "max_upscale_side": "super-resolution input side",
    "max_semantic_side": "semantic maps run at their own size up to this side (or the model's size, if larger)",
    "max_request_seconds": "seconds one request may hold the device, estimated from its pixels x steps x batch and "
    "measured on this device; bigger requests are refused saying what fits",
}


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="serve --share/--listen WITHOUT a login (by default they generate a password and print it once)",
    )
    serve.add_argument(
        "--require-auth",
        action="store_true",
        help="ask for a login on loopback too (a password is generated when --auth gives none)",
    )
    serve.add_argument(
        "--concurrency",
        type=positive_int,
        default=None,
        help="jobs running at once (default 1; with --serve ray, twice the number of replicas: one running and one "
        "waiting in Ray's queue per replica, so each replica starts its next job as soon as it finishes one)",
    )
    serve.add_argument(
        "--max-queue",
        type=positive_int,
        default=16,
        help="requests waiting at most; more are refused with 'queue is full, try again' (default 16)",
    )
    serve.add_argument(
        "--max-upload-mb", type=float, default=20.0, help="largest uploaded file in megabytes (default 20)"
    )
    limits = parser.add_argument_group("per-request limits")
    for name, text in LIMIT_FLAGS.items():
        default = Limits.__dataclass_fields__[name].default
        limits.add_argument(
            f"--{name.replace('_', '-')}", type=positive_int, default=default, help=f"{text} ({default})"
        )
    models = parser.add_argument_group("models")
    models.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="builtin",
        help="builtin: the bundled small family; sd15: Stable Diffusion 1.5 + ControlNet-seg + "
        "LDM x4; ldm-paper: the CompVis LDM checkpoints",
    )
    models.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="TASK=WHERE",
        help="serve TASK (text2img, inpaint, semantic, upscale) from WHERE instead of the preset's model: a hub id, "
        "a local diffusers folder or a single .safetensors checkpoint; repeatable",
    )
    models.add_argument(
        "--model-dir", type=Path, default=None, help="folder of the built-in family (default assets/builtin)"
    )
    models.add_argument(
        "--models-dir",
        type=Path,
        default=Path("models"),
        help="folder of .safetensors checkpoints the page's checkpoint picker lists (default models/)",
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
    add_serve_arguments(parser)
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def engine_config(args: argparse.Namespace) -> EngineConfig:
    return EngineConfig(
        preset=args.preset,
        model_root=args.model_dir,
        sources=parse_sources(args.source),
        models_dir=args.models_dir,
        device=args.device,
        dtype=args.dtype,
        offload=args.offload,
        attention_slicing=args.attention_slicing,
        vae_tiling=args.vae_tiling,
        vae_slicing=args.vae_slicing,
        outputs_dir=args.outputs,
        save_outputs=not args.no_save,
        offline=args.offline,
        limits=limits_from(args),
    )


def parse_sources(items: list[str]) -> dict[str, str] | None:
    """["text2img=/models/v1-5.safetensors"] -> {"text2img": "/models/v1-5.safetensors"}; the engine checks tasks."""
    sources = {}
    for item in items:
        task, sep, where = item.partition("=")
        if not sep or not task.strip() or not where.strip():
            raise SystemExit(f"--source {item!r}: expected TASK=WHERE, e.g. text2img=/models/v1-5.safetensors")
        sources[task.strip()] = where.strip()
    return sources or None


def limits_from(args: argparse.Namespace) -> Limits:
    return Limits(**{field.name: getattr(args, field.name) for field in fields(Limits)})


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
        if not sep or not user or not password:  # the line may be a bare password: never echo it
            raise SystemExit(f"login #{len(logins) + 1}: expected user:pass")
        logins.append((user, password))
    return logins or None


@dataclass(frozen=True)
class Access:
    logins: list[tuple[str, str]] | None  # None: no login asked
    generated: tuple[str, str] | None = None  # a login made up here, to print once on the terminal


def resolve_access(args: argparse.Namespace) -> Access:
    """--share and --listen need a login: --auth/--auth-file, else a generated password; --no-auth opts out loudly."""
    logins = read_auth(args)
    public = args.share or args.listen
    if args.no_auth:
        if logins or args.require_auth:
            raise SystemExit("--no-auth contradicts --auth, --auth-file and --require-auth: pick one")
        if public:
            logger.warning(
                "Serving WITHOUT a login (--no-auth): anyone who can reach %s can run jobs on this device.",
                "the public share link" if args.share else "this machine's port",
            )
        return Access(None)
    if logins:
        return Access(logins)
    if public or args.require_auth:
        login = (GENERATED_USER, secrets.token_urlsafe(12))
        return Access([login], generated=login)
    return Access(None)


def print_credentials(login: tuple[str, str]) -> None:
    """On the terminal (stdout) only, once: the logging handlers never see the password."""
    print(
        f"\n  Login required.  user: {login[0]}   password: {login[1]}\n"
        "  (shown once, here only; pass --auth USER:PASS to choose your own)\n",
        file=sys.stdout,
        flush=True,
    )


def launch_options(args: argparse.Namespace, access: Access) -> dict[str, Any]:
    """gradio launch() keywords: loopback unless --listen; only the outputs folder is served as files, and with logins
    not even that: each user fetches only their own outputs, at /studio/outputs/ (ui.http_guard)."""
    blocked = [path for path in (args.model_dir, args.models_dir, args.auth_file) if path is not None]
    return {
        "server_name": "0.0.0.0" if args.listen else "127.0.0.1",
        "server_port": args.port,
        "auth": access.logins,
        "share": args.share,
        "prevent_thread_lock": True,
        "max_file_size": int(args.max_upload_mb * 1024 * 1024),
        "allowed_paths": [] if args.no_save or access.logins else [str(args.outputs)],
        "blocked_paths": [str(path) for path in blocked],
        "show_error": False,  # only studio errors (gr.Error) reach the browser; tracebacks stay in the log
    }


def engine_summary(description: dict[str, Any]) -> str:
    """The terminal's second line after the URL: "  preset builtin · device cpu (float32) · memory none"."""
    dtype = description.get("dtype") or "?"
    if description.get("autocast"):
        dtype += f" + {description['autocast']} autocast"
    line = (
        f"  preset {description.get('preset')} · device {description.get('device')} ({dtype}) · "
        f"memory {description.get('memory_mode')}"
    )
    if description.get("serving"):  # --serve ray: where the engine runs
        line += f"\n  engine {description['serving']}"
    return "\n".join([line, *(f"  note: {notice}" for notice in description.get("notices") or [])])


def default_concurrency(args: argparse.Namespace) -> int:
    """Jobs the UI hands to the engine at once: 1 in process; with --serve ray, two per replica, so that a replica's
    next job already waits in Ray's queue while the app saves the last one's images and prepares the next's inputs
    (with one per replica, each replica idled through that)."""
    return 2 * (args.replicas or 1) if args.serve == "ray" else 1


def launch(demo: gr.Blocks, args: argparse.Namespace, summary: str = "") -> None:
    """Serve; when --share cannot open its tunnel, say so plainly and keep serving locally."""
    access = resolve_access(args)
    demo.queue(default_concurrency_limit=args.concurrency or default_concurrency(args), max_size=args.max_queue)
    _, local_url, share_url = demo.launch(**launch_options(args, access))
    if summary:
        print(summary, flush=True)
    if access.generated:
        print_credentials(access.generated)
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
    if not arguments.verbose:  # gradio's own HTTP checks at start-up, one INFO line per request
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        remote = serve_options(arguments)  # --serve ray: engine replicas on Ray Serve (imported only then)
        if remote is None:
            engine = Engine(engine_config(arguments))
        else:
            from ldm_serve.cluster import start_replicas

            engine = start_replicas(engine_config(arguments), remote)
    except StudioError as error:  # a bad --preset/--source/--device/...: say which, no traceback
        raise SystemExit(f"Cannot start: {error}") from None
    try:
        use_own_cache()  # before the UI is built: no other gradio app's cache cleaning takes this one's files
        demo = build_demo(engine)
        launch(demo, arguments, engine_summary(engine.describe()))
    finally:
        getattr(engine, "close", lambda: None)()  # replicas stop with the app
