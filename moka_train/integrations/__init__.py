"""Plugins for other tools: ``lmms`` registers MokA models with lmms-eval (the ``lmms`` extra)."""
