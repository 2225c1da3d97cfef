"""``Registry``: the one way a name in a config becomes a class or a builder.

Adapter methods (``adapter.method``), encoders (``encoder.type``) and projectors
(``projector.type``) each keep one ``Registry``: a table of name -> entry filled by
``@registry.register("name")``. An entry is whatever the kind needs (a layer class, a builder
function); builders import their heavy module inside, so filling the table imports nothing
heavy (``validate`` never loads an encoder's dependencies). An unknown name is a ``ValueError``
naming the config key, the bad name and every allowed one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Names of one ``kind`` (e.g. "encoder") chosen by the config key ``key`` (e.g. "encoder.type").

    ``load``, when given, is called once before the first lookup: it imports the modules whose
    ``@register`` decorators fill the table (adapter methods live one per module)."""

    def __init__(self, kind: str, key: str, load: Callable[[], None] | None = None) -> None:
        self.kind, self.key = kind, key
        self._load = load
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: enter the decorated class or function under ``name`` (a name is entered once)."""

        def enter(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = entry
            return entry

        return enter

    def get(self, name: str, key: str | None = None) -> T:
        """The entry of ``name``; ``key`` overrides the config location named in the error
        (e.g. ``model.modalities[1].encoder.type``)."""
        entries = self._loaded()
        if name not in entries:
            raise ValueError(
                f"{key or self.key}: unknown {self.kind} {name!r}; choose one of: {', '.join(sorted(entries))}"
            )
        return entries[name]

    def names(self) -> list[str]:
        return sorted(self._loaded())

    def _loaded(self) -> dict[str, T]:
        if self._load is not None:
            self._load()
            self._load = None  # after it succeeded: a failed import is raised again on the next lookup
        return self._entries
