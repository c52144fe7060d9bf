"""The studio's gradio cache is a folder of its own: another gradio app's cache cleaning (`delete_cache`: hourly, and
everything it cached at shutdown) cannot delete the studio's uploads and results, although gradio names cached files
by their content (the same image cached by two apps in one folder is one file)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
from gradio_client import Client
from PIL import Image
from ui_fixtures import free_port

from ui import cache_dir

PICTURE = Image.fromarray(np.full((8, 8, 3), 200, np.uint8))


def serve_picture() -> tuple[gr.Blocks, Path]:
    """A gradio app (cleaning its cache as the studio does) that shows one image; the cached file it served."""
    with gr.Blocks(delete_cache=(600, 3600)) as demo:
        show = gr.Button()
        shown = gr.Image(type="pil")
        show.click(lambda: PICTURE, None, shown, api_name="picture")
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    client = Client(url, verbose=False)
    client.predict(api_name="/picture")
    client.close()
    (cached,) = (Path(path) for block in demo.blocks.values() for path in block.temp_files)
    return demo, cached


def test_another_apps_cleaning_leaves_the_studios_cache_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    monkeypatch.setattr(cache_dir, "_own", None)
    other, others_file = serve_picture()  # another gradio app on the machine, in the shared folder
    own = cache_dir.use_own_cache()
    try:
        assert own.parent == tmp_path and own.name.startswith(cache_dir.PREFIX)
        assert cache_dir.use_own_cache() == own  # one folder for the whole process
        studio, studios_file = serve_picture()
        assert studios_file.is_relative_to(own) and others_file.is_file()
        assert studios_file.name == others_file.name  # same content, same name: one file if the folder were shared
        other.close()  # the other app's shutdown deletes everything it cached ...
        assert not others_file.exists()
        assert studios_file.is_file()  # ... and nothing of the studio's
        studio.close()
    finally:
        other.close()
