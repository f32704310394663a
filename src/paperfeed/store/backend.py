"""One storage engine behind one interface: its `Store` (papers, keyword index, feature tables) and
its `SemanticEngine` (vectors), the way an HTTP client puts each transport behind one interface.
`store.engines.open_backend(config)` picks the engine from the configuration; nothing above it
(the `Library`, the faces) asks which engine it got.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from paperfeed.config import Config
from paperfeed.embed.engine import SemanticEngine
from paperfeed.errors import InvalidInput
from paperfeed.store.base import Store


class Backend(ABC):
    """A store and its vector engine, opened together and closed together."""

    store: Store
    semantic: SemanticEngine

    def __init__(self, store: Store, semantic: SemanticEngine) -> None:
        self.store = store
        self.semantic = semantic

    @classmethod
    @abstractmethod
    def open(cls, config: Config) -> Backend:
        """Open the engine's store (migrating its schema) and its vector engine."""

    def migrate_rows(self) -> int:
        """How many rows `migrate_to` would copy; 0 when this engine is no migration source."""
        return 0

    def migrate_to(self, url: str, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Copy this library into the PostgreSQL database at `url` (see `paperfeed.migrate`)."""
        raise InvalidInput("migrate copies an SQLite library: open it with --home or sqlite:///")

    def close(self) -> None:
        self.semantic.close()
        self.store.close()
