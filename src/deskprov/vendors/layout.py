"""Places lines and memory keys on one model's keys: lines first (on the same keys, or on keys of
their own where the model has them), then memory keys, then expansion modules; what does not
fit is reported, not silently lost."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from deskprov.domain.config import Line, MemoryKey, PhoneConfig, PhoneData, PlacedKey
from deskprov.vendors.profile import Model


def lay_out(vendor: str, model: Model, data: PhoneData, mac: str | None) -> PhoneConfig:
    lines = data.lines[: model.max_lines]
    # Lines take the first keys unless the model shows them on keys of their own (Fanvil's
    # side keys), where every key is free for memory keys.
    taken = len(lines) if model.lines_on_keys else 0
    keys = _placed(
        model.keys, model.expansion_modules, model.expansion_keys_per_module, taken, data.keys
    )
    line_slots: tuple[Line, ...] = lines[: min(taken, model.keys)]
    return PhoneConfig(
        vendor=vendor,
        model=model.name,
        mac=mac,
        lines=lines,
        keys=keys.on_phone,
        expansion_keys=keys.on_modules,
        dropped=keys.dropped,
        version=f"2.{data.data_version % 10**10:010d}",
        accounts=lines + (None,) * (model.max_lines - len(lines)),
        slots=line_slots + keys.slots,
        modules=keys.modules,
    )


class _Keys(NamedTuple):
    on_phone: tuple[PlacedKey, ...]
    on_modules: tuple[PlacedKey, ...]
    dropped: tuple[MemoryKey, ...]
    slots: tuple[PlacedKey | None, ...]  # every slot after the lines' keys
    modules: tuple[tuple[PlacedKey | None, ...], ...]


# The same keys on the same model are placed once (every phone of an account with the account's
# keys only): the placed keys are then the same objects in every phone's config, which the
# fragments of keys are remembered by.
@lru_cache(maxsize=1024)
def _placed(
    on_phone: int, modules: int, per_module: int, taken: int, keys: tuple[MemoryKey, ...]
) -> _Keys:
    free = max(0, on_phone - taken)
    capacity = modules * per_module
    first = taken + 1
    placed = tuple(PlacedKey(key=k, number=first + i) for i, k in enumerate(keys[:free]))
    rest = keys[free:]
    per = per_module or 1
    expansion = tuple(
        PlacedKey(
            key=k,
            number=on_phone + 1 + i,  # (modules are used only once the phone's keys are full)
            module=i // per + 1,
            module_key=i % per + 1,
        )
        for i, k in enumerate(rest[:capacity])
    )
    start = min(taken, on_phone)  # (the slots before are the lines')
    slots: list[PlacedKey | None] = [None] * (on_phone + capacity - start)
    for key in placed + expansion:
        slots[key.number - 1 - start] = key
    return _Keys(
        on_phone=placed,
        on_modules=expansion,
        dropped=rest[capacity:],
        slots=tuple(slots),
        modules=tuple(
            tuple(slots[at : at + per]) for at in range(on_phone - start, len(slots), per)
        ),
    )
