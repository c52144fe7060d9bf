"""One short recipe per task over the shared stages in `common`; `ldm_core.registry` lists them."""
