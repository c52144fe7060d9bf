"""Pipelines that diffusers does not ship (the built-in semantic-map model)."""
