"""Places lines and memory keys on one model's keys: lines first, then memory keys, then
expansion modules; what does not fit is reported, not silently lost."""

from __future__ import annotations

from deskprov.domain.config import PhoneConfig, PhoneData, PlacedKey
from deskprov.vendors.profile import Model


def lay_out(vendor: str, model: Model, data: PhoneData, mac: str | None) -> PhoneConfig:
    lines = data.lines[: model.max_lines]
    free = max(0, model.keys - len(lines))
    on_phone = data.keys[:free]
    rest = data.keys[free:]
    capacity = model.expansion_modules * model.expansion_keys_per_module
    on_modules = rest[:capacity]
    first = len(lines) + 1
    keys = tuple(PlacedKey(key=k, number=first + i) for i, k in enumerate(on_phone))
    per_module = model.expansion_keys_per_module or 1
    expansion = tuple(
        PlacedKey(
            key=k,
            number=first + len(on_phone) + i,
            module=i // per_module + 1,
            module_key=i % per_module + 1,
        )
        for i, k in enumerate(on_modules)
    )
    return PhoneConfig(
        vendor=vendor,
        model=model.name,
        mac=mac,
        lines=lines,
        keys=keys,
        expansion_keys=expansion,
        dropped=rest[capacity:],
        version=f"2.{data.data_version % 10**10:010d}",
    )
