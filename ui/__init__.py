"""The Gradio front end of the studio: talks to `ldm_core` only through `Engine.run`, `task_status` and `describe`."""

from .demo import build_demo

__all__ = ["build_demo"]
