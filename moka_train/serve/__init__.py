"""An OpenAI-compatible HTTP server for a trained export (``moka-train serve``; the ``serve`` extra)."""
