"""The configured upstream providers, looked up by their key ("esia", "rsaa", ...)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bridge.upstream.base import UpstreamProvider


@dataclass(frozen=True)
class UpstreamRegistry:
    providers: dict[str, UpstreamProvider] = field(default_factory=dict)

    @classmethod
    def of(cls, providers: Iterable[UpstreamProvider]) -> UpstreamRegistry:
        return cls({provider.key: provider for provider in providers})

    def get(self, key: str) -> UpstreamProvider | None:
        return self.providers.get(key)

    def __iter__(self) -> Iterator[UpstreamProvider]:
        return iter(self.providers.values())

    def __len__(self) -> int:
        return len(self.providers)
