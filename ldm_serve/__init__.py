"""Serving the engine on Ray Serve: N engine replicas behind one Gradio process (`python app.py --serve ray`).

The Gradio app keeps its sessions, logins, queue and output files; each replica is one `ldm_core.Engine` in its own
process (or GPU). `options` and `messages` import nothing from Ray, so the app can read its flags without Ray
installed; `cluster`, `replica` and `remote` need `pip install -r requirements-serve.txt`.
"""
