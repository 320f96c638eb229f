"""The storage interface services depend on: named tables of JSON documents.

A second backend (e.g. Postgres) implements these two classes; services never see sqlite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Document = dict[str, Any]
Step = tuple["Table", Mapping[str, Document], Iterable[str]]


class Table(ABC):
    """Key → JSON document. Each write is atomic and durable when the call returns."""

    @abstractmethod
    async def get(self, key: str) -> Document | None: ...

    @abstractmethod
    async def put(self, key: str, value: Document) -> None: ...

    @abstractmethod
    async def write(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> None:
        """Several puts and deletes in one transaction: all land or none."""

    @abstractmethod
    async def delete(self, key: str) -> bool: ...

    @abstractmethod
    async def items(self) -> list[tuple[str, Document]]:
        """All entries in insertion order (rewriting a key keeps its place)."""

    @abstractmethod
    async def newest(self, limit: int, offset: int = 0) -> list[tuple[str, Document]]:
        """Entries in insertion order, newest first, skipping `offset`: listing without reading it all."""

    @abstractmethod
    async def oldest(self, limit: int, offset: int = 0) -> list[tuple[str, Document]]:
        """Entries in insertion order, oldest first, skipping `offset`: housekeeping without reading it all."""

    @abstractmethod
    async def count(self) -> int: ...

    @abstractmethod
    def version(self) -> object:
        """A cheap token that changes whenever the table may have changed, by any process: callers
        keep a derived index of a small table until it does."""


class Storage(ABC):
    """Opens tables by name and closes them all at shutdown."""

    @abstractmethod
    def table(self, name: str) -> Table: ...

    async def write_in_order(self, steps: Sequence[Step]) -> None:
        """Each step's `table.write(put, delete)` commits before the next starts.

        A crash can stop between steps but never reorder them: callers build crash safety on it.
        A backend may run the steps in one go (sqlite: one thread hop instead of one per table).
        """
        for table, put, delete in steps:
            await table.write(put, delete)

    @abstractmethod
    async def close(self) -> None: ...
