"""Prometheus metrics of the sender, in a registry of its own per app instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class SenderMetrics:
    """Request counts, job durations by stage, queue depth and errors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "deepsc_http_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.jobs = Counter("deepsc_jobs", "Jobs that reached a final status", ["status"], registry=self.registry)
        self.errors = Counter("deepsc_job_errors", "Failed jobs by cause", ["cause"], registry=self.registry)
        self.stage_seconds = Histogram(
            "deepsc_job_stage_seconds",
            "Seconds spent per job stage",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "deepsc_job_seconds",
            "Seconds from start to the end of a job",
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge("deepsc_queue_depth", "Jobs waiting for the worker", registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
