"""A few Prometheus counters, rendered in the text exposition format."""

from __future__ import annotations

from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.renders: Counter[str] = Counter()
        self.cache_hits: Counter[str] = Counter()

    def render(self) -> str:
        lines = [
            "# HELP deskprov_requests_total HTTP requests by endpoint and status.",
            "# TYPE deskprov_requests_total counter",
        ]
        for (endpoint, status), n in sorted(self.requests.items()):
            lines.append(f'deskprov_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
        for name, counter, help_text in (
            ("deskprov_config_renders_total", self.renders, "Configuration files rendered."),
            ("deskprov_cache_hits_total", self.cache_hits, "Rendered files served from cache."),
        ):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
            for vendor, n in sorted(counter.items()):
                lines.append(f'{name}{{vendor="{vendor}"}} {n}')
        return "\n".join(lines) + "\n"
