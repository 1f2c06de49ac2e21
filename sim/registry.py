"""One small registry per extension point (simulators, perceivers, encoders, ...).

Entries are either objects registered with a decorator or lazy ``"module:attr"`` paths, so
optional backends are only imported when someone builds them.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from sim.errors import RegistryError

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Maps names to factories; unknown names raise ``RegistryError`` listing what exists."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, obj: T | None = None) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name``; use as ``@registry.register("name")`` too."""
        if obj is not None:
            self._entries[name] = obj
            return obj

        def deco(o: T) -> T:
            self._entries[name] = o
            return o

        return deco

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:attr"`` to be imported on first use."""
        self._entries[name] = target

    def get(self, name: str) -> T:
        try:
            entry = self._entries[name]
        except KeyError:
            raise RegistryError(
                f"unknown {self.kind} {name!r}. Available: {', '.join(sorted(self._entries)) or 'none'}"
            ) from None
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry = getattr(importlib.import_module(module), attr)
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
