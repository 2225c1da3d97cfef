"""Adapter methods by name (``adapter.method``). A new method is one class in ``adapters/methods``
decorated with ``@register("name")``."""

from __future__ import annotations

import importlib
import pkgutil

from ..utils.registry import Registry


def _load_builtin_methods() -> None:
    """Import every module of ``adapters/methods``; their ``@register`` decorators fill the table."""
    from . import methods

    for info in pkgutil.iter_modules(methods.__path__):
        importlib.import_module(f"{methods.__name__}.{info.name}")


METHODS: Registry[type] = Registry("adapter method", key="adapter.method", load=_load_builtin_methods)


def register(name: str):
    """Class decorator: the adapter layer class of method ``name`` (also its ``method_name``)."""

    def wrap(cls: type) -> type:
        METHODS.register(name)(cls)
        cls.method_name = name
        return cls

    return wrap


def get_method(name: str) -> type:
    return METHODS.get(name)


def available_methods() -> list[str]:
    return METHODS.names()
