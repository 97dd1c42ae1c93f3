"""The dialect registry: names and CloudEvents types to plug-ins."""

from __future__ import annotations

from collections.abc import Iterable

from service.dialects.base import Dialect


class Registry:
    def __init__(self, dialects: Iterable[Dialect]) -> None:
        self._by_name: dict[str, Dialect] = {}
        self._alias: dict[str, str] = {}
        for d in dialects:
            self._by_name[d.name] = d
            for alias in (d.name, *d.aliases):
                self._alias[alias.lower()] = d.name

    def resolve(self, named: str) -> str | None:
        return self._alias.get(named.lower())

    def accepts_text(self, name: str) -> bool:
        return self._by_name[name].accepts_text

    def get(self, name: str) -> Dialect:
        return self._by_name[name]

    def names(self) -> list[str]:
        return sorted(self._by_name)
