"""Small in-process LRU caches for the phone endpoint. Keys carry the organisation's data version,
so a change anywhere in the organisation makes old entries unreachable (they age out)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """Bounded by total ``weight`` (entries count 1 each unless a weigher is given)."""

    def __init__(self, budget: int, weigh: Callable[[V], int] = lambda _v: 1) -> None:
        self.budget = budget
        self._weigh = weigh
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._used = 0

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: K, value: V) -> None:
        weight = self._weigh(value)
        if weight > self.budget:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self._used -= old[1]
        self._items[key] = (value, weight)
        self._used += weight
        while self._used > self.budget:
            _, (_, dropped) = self._items.popitem(last=False)
            self._used -= dropped

    def __len__(self) -> int:
        return len(self._items)
