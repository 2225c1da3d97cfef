"""Builders of tiny real models and tokenizers, written to disk in each library's own format,
so tests and the demo exercise the real loading code (no hub, no fakes)."""
