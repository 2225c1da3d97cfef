"""Adapter methods by name. A new method is one class decorated with ``@register("name")``."""

from __future__ import annotations

import importlib
import pkgutil

_METHODS: dict[str, type] = {}


def register(name: str):
    def wrap(cls: type) -> type:
        if name in _METHODS:
            raise ValueError(f"adapter method {name!r} registered twice")
        cls.method_name = name
        _METHODS[name] = cls
        return cls

    return wrap


def get_method(name: str) -> type:
    _load_builtin_methods()
    if name not in _METHODS:
        raise ValueError(f"unknown adapter method {name!r}; choose one of: {', '.join(sorted(_METHODS))}")
    return _METHODS[name]


def available_methods() -> list[str]:
    _load_builtin_methods()
    return sorted(_METHODS)


def _load_builtin_methods() -> None:
    """Import every module of ``adapters/methods``; their ``@register`` decorators fill the table."""
    from . import methods

    for info in pkgutil.iter_modules(methods.__path__):
        importlib.import_module(f"{methods.__name__}.{info.name}")
