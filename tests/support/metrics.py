"""Reading a service's /metrics, for tests and the benchmark."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def requests_in_progress(metrics_text: str) -> float:
    """What `http_requests_in_progress` reads, the /metrics request itself included."""
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "http_requests_in_progress":
            return sum(sample.value for sample in family.samples)
    raise LookupError("no http_requests_in_progress in these metrics")
