"""Prometheus metrics of one app, in a registry of its own (several apps in one process never clash):
requests by outcome and their time per model version, counted by the app; the batcher's batches, items,
queue wait and batched inference time, read from its stats(). Both are read when scraped."""

import bisect
import itertools
import threading

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LABELS = ["model", "version"]


def _buckets(counts, largest):
    """Cumulative (upper bound, batches) for powers of two up to the largest batch, from {size: batches}."""
    bounds, b = [], 1
    while b < largest:
        bounds.append(b)
        b *= 2
    bounds.append(largest)
    return [(str(float(b)), sum(n for k, n in counts.items() if k <= b)) for b in bounds] + \
        [("+Inf", sum(counts.values()))]


class _BatcherCollector:
    def __init__(self, models):
        self.models = models

    def collect(self):
        batches = CounterMetricFamily("ovfast_batches", "batched inferences run", labels=_LABELS)
        items = CounterMetricFamily("ovfast_batch_items", "rows run in batches (items / batches: the mean "
                                    "batch size)", labels=_LABELS)
        wait = GaugeMetricFamily("ovfast_queue_wait_microseconds", "time a row waited for its batch, "
                                 "percentile over the last 4096 rows", labels=_LABELS + ["quantile"])
        run = GaugeMetricFamily("ovfast_batch_inference_microseconds", "time of a batched inference, "
                                "percentile over the last 4096 batches", labels=_LABELS + ["quantile"])
        sizes = HistogramMetricFamily("ovfast_batch_size", "rows in a batched inference", labels=_LABELS)
        for m in self.models:
            stats = m.stats()
            if stats is None:
                continue
            labels = [m.name, str(m.version)]
            batches.add_metric(labels, stats["batches"])
            sizes.add_metric(labels, _buckets(stats["batch_sizes"], m.batcher.max_batch_size), stats["items"])
            items.add_metric(labels, stats["items"])
            for family, key in ((wait, "queue_wait_us"), (run, "inference_us")):
                for q, value in stats[key].items():
                    if value is not None:
                        family.add_metric(labels + [str(int(q[1:]) / 100)], value)
        return [batches, items, sizes, wait, run]


# upper bounds (le) of the request-time histogram, in seconds
_BOUNDS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _Counts:
    """One model version's request figures, as plain numbers (Metrics.lock held to change them)."""
    __slots__ = ("success", "failure", "rows", "in_flight", "seconds", "buckets")

    def __init__(self):
        self.success = self.failure = self.rows = self.in_flight = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(_BOUNDS) + 1)   # per bound (le), then past the last


class _RequestCollector:
    """The counts as Prometheus families when scraped. A request adds to plain numbers under one lock:
    prometheus_client's metric objects cost several calls and a lock of their own per update, a few
    per cent of a small model's request."""

    def __init__(self, metrics):
        self.metrics = metrics

    def collect(self):
        requests = CounterMetricFamily("ovfast_inference_requests", "inference requests answered, by outcome "
                                       "(success, failure: a 4xx or 5xx answer)", labels=_LABELS + ["outcome"])
        rows = CounterMetricFamily("ovfast_inference_rows", "rows (first-axis items) of successful requests",
                                   labels=_LABELS)
        duration = HistogramMetricFamily("ovfast_inference_request_seconds", "time of a successful request's "
                                         "inference, queue wait included (from its decoded body to its results)",
                                         labels=_LABELS)
        in_flight = GaugeMetricFamily("ovfast_inference_requests_in_flight", "inference requests taken and not "
                                      "yet answered", labels=_LABELS)
        with self.metrics.lock:
            figures = [(m.name, str(m.version), c.success, c.failure, c.rows, c.in_flight, c.seconds, list(c.buckets))
                       for m, c in self.metrics.counts.items()]
        for name, version, success, failure, n_rows, flight, seconds, buckets in figures:
            labels = [name, version]
            requests.add_metric(labels + ["success"], success)
            requests.add_metric(labels + ["failure"], failure)
            rows.add_metric(labels, n_rows)
            cumulative = list(itertools.accumulate(buckets))
            duration.add_metric(labels, [(str(float(b)), n) for b, n in zip(_BOUNDS, cumulative)] +
                                [("+Inf", cumulative[-1])], seconds)
            in_flight.add_metric(labels, flight)
        return [requests, rows, duration, in_flight]


class Metrics:
    """An app's metrics: taken/answered/success/failure(model) per request, on any thread; text() for
    /metrics."""

    def __init__(self, models):
        self.registry = CollectorRegistry()
        self.lock = threading.Lock()
        # every model shows its zero counts before its first request
        self.counts = {m: _Counts() for m in models}
        self.registry.register(_RequestCollector(self))
        self.registry.register(_BatcherCollector(models))

    def taken(self, model):
        with self.lock:
            self.counts[model].in_flight += 1

    def answered(self, model):
        with self.lock:
            self.counts[model].in_flight -= 1

    def success(self, model, rows, seconds):
        c = self.counts[model]
        with self.lock:
            c.success += 1
            c.rows += rows
            c.seconds += seconds
            c.buckets[bisect.bisect_left(_BOUNDS, seconds)] += 1

    def failure(self, model):
        with self.lock:
            self.counts[model].failure += 1

    def text(self):
        return generate_latest(self.registry)
