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


class SharingLru(Generic[K, V]):
    """An LRU bounded by the bytes its values hold, when values share some of them: each value
    weighs ``weigh(value)`` of its own, and the ``shared(value)`` bytes objects it holds count
    once, while any value in the cache holds them (rendered files: a fragment such as the
    unused keys of a model is in every file of that model, held once)."""

    def __init__(
        self,
        budget: int,
        weigh: Callable[[V], int],
        shared: Callable[[V], tuple[bytes, ...]],
    ) -> None:
        self.budget = budget
        self._weigh = weigh
        self._shared = shared
        self._items: OrderedDict[K, V] = OrderedDict()
        self._holders: dict[int, int] = {}  # id of a shared bytes object -> values holding it
        self._used = 0

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        own, shared = self._weigh(value), self._shared(value)
        if own + sum(map(len, shared)) > self.budget:
            return
        if key in self._items:
            self._drop(key)
        self._items[key] = value
        self._used += own
        for part in shared:
            held = self._holders.get(id(part), 0)
            self._holders[id(part)] = held + 1
            if not held:
                self._used += len(part)
        while self._used > self.budget:
            self._drop(next(iter(self._items)))

    def _drop(self, key: K) -> None:
        value = self._items.pop(key)
        self._used -= self._weigh(value)
        for part in self._shared(value):
            # (the id is this object's while any value holds it: it is alive until then)
            held = self._holders[id(part)] - 1
            if held:
                self._holders[id(part)] = held
            else:
                del self._holders[id(part)]
                self._used -= len(part)

    @property
    def used(self) -> int:
        return self._used

    def __len__(self) -> int:
        return len(self._items)
