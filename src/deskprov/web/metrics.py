"""Prometheus counters: requests by endpoint and status, renders and cache hits by vendor.

Requests count into plain ``Counter``s (the phone path pays a dict increment, ~50 ns, not a
prometheus_client child lookup and lock, ~1-2 us); ``publish()`` hands what was added since the
last call to prometheus_client, which ``render()`` exposes. Under ``deskprov serve --workers N``
the supervisor gives every worker one ``PROMETHEUS_MULTIPROC_DIR``: each process publishes into
its own files there, and any worker's ``/metrics`` adds up all of them, so a scrape sees the
whole server (and counts of a worker that died and was replaced are kept, not reset).
"""

from __future__ import annotations

import os
from collections import Counter

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.renders: Counter[str] = Counter()
        self.cache_hits: Counter[str] = Counter()
        self._registry = CollectorRegistry(auto_describe=True)
        self._published: dict[str, Counter[tuple[str, ...]]] = {}
        self._series = {
            "requests": PromCounter(
                "deskprov_requests",
                "HTTP requests by endpoint and status.",
                ["endpoint", "status"],
                registry=self._registry,
            ),
            "renders": PromCounter(
                "deskprov_config_renders",
                "Configuration files rendered.",
                ["vendor"],
                registry=self._registry,
            ),
            "cache_hits": PromCounter(
                "deskprov_cache_hits",
                "Rendered files served from cache.",
                ["vendor"],
                registry=self._registry,
            ),
        }

    def publish(self) -> None:
        """Hand the counts added since the last call to prometheus_client."""
        for name, series in self._series.items():
            counts: Counter[tuple[str, ...]] = Counter(
                {_labels(key): n for key, n in getattr(self, name).items()}
            )
            published = self._published.setdefault(name, Counter())
            for labels, n in counts.items():
                if n > published[labels]:
                    series.labels(*labels).inc(n - published[labels])
            self._published[name] = counts

    def render(self) -> bytes:
        """The text exposition of every process of this server."""
        self.publish()
        if os.environ.get(MULTIPROCESS_DIR):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self._registry)


def _labels(key: object) -> tuple[str, ...]:
    return tuple(str(part) for part in key) if isinstance(key, tuple) else (str(key),)
