"""Places lines and memory keys on one model's keys: lines first (on the same keys, or on keys of
their own where the model has them), then memory keys, then expansion modules; what does not
fit is reported, not silently lost."""

from __future__ import annotations

from typing import cast

from deskprov.domain.config import Line, PhoneConfig, PhoneData, PlacedKey
from deskprov.vendors.profile import Model


def lay_out(vendor: str, model: Model, data: PhoneData, mac: str | None) -> PhoneConfig:
    lines = data.lines[: model.max_lines]
    # Lines take the first keys unless the model shows them on keys of their own (Fanvil's
    # side keys), where every key is free for memory keys.
    taken = len(lines) if model.lines_on_keys else 0
    free = max(0, model.keys - taken)
    on_phone = data.keys[:free]
    rest = data.keys[free:]
    capacity = model.expansion_modules * model.expansion_keys_per_module
    on_modules = rest[:capacity]
    first = taken + 1
    keys = tuple(PlacedKey(key=k, number=first + i) for i, k in enumerate(on_phone))
    per_module = model.expansion_keys_per_module or 1
    expansion = tuple(
        PlacedKey(
            key=k,
            number=model.keys + 1 + i,  # (modules are used only once the phone's keys are full)
            module=i // per_module + 1,
            module_key=i % per_module + 1,
        )
        for i, k in enumerate(on_modules)
    )
    slots: list[Line | PlacedKey | None] = [None] * (model.keys + capacity)
    if model.lines_on_keys:
        slots[: min(taken, model.keys)] = lines[: model.keys]
    for placed in keys + expansion:
        slots[placed.number - 1] = placed
    return PhoneConfig(
        vendor=vendor,
        model=model.name,
        mac=mac,
        lines=lines,
        keys=keys,
        expansion_keys=expansion,
        dropped=rest[capacity:],
        version=f"2.{data.data_version % 10**10:010d}",
        accounts=lines + (None,) * (model.max_lines - len(lines)),
        slots=tuple(slots),
        modules=tuple(
            tuple(cast(list[PlacedKey | None], slots[start : start + per_module]))
            for start in range(model.keys, len(slots), per_module)
        ),
    )
