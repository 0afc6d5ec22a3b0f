"""Prometheus metrics of one app, in a registry of its own (several apps in one process never clash):
requests by outcome and their time per model version, counted by the app; the batcher's batches, items,
queue wait and batched inference time, read from its stats() when scraped."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
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


class Metrics:
    def __init__(self, models):
        self.registry = CollectorRegistry()
        self.requests = Counter("ovfast_inference_requests", "inference requests answered, by outcome "
                                "(success, failure: a 4xx or 5xx answer)", _LABELS + ["outcome"],
                                registry=self.registry)
        self.request_rows = Counter("ovfast_inference_rows", "rows (first-axis items) of successful requests",
                                    _LABELS, registry=self.registry)
        self.duration = Histogram("ovfast_inference_request_seconds", "time of a successful request's "
                                  "inference, queue wait included (from its decoded body to its results)",
                                  _LABELS, registry=self.registry,
                                  buckets=(1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
                                           0.5, 1, 2.5, 5, 10))
        self.in_flight = Gauge("ovfast_inference_requests_in_flight", "inference requests taken and not yet "
                               "answered", _LABELS, registry=self.registry)
        self.registry.register(_BatcherCollector(models))
        # children made up front: every model shows its zero counts before its first request
        self._children = {}
        for m in models:
            key = (m.name, m.version)
            v = str(m.version)
            self._children[key] = (self.requests.labels(m.name, v, "success"),
                                   self.requests.labels(m.name, v, "failure"),
                                   self.request_rows.labels(m.name, v), self.duration.labels(m.name, v),
                                   self.in_flight.labels(m.name, v))

    def taken(self, model):
        self._children[model.name, model.version][4].inc()

    def answered(self, model):
        self._children[model.name, model.version][4].dec()

    def success(self, model, rows, seconds):
        ok, _, r, d, _ = self._children[model.name, model.version]
        ok.inc()
        r.inc(rows)
        d.observe(seconds)

    def failure(self, model):
        self._children[model.name, model.version][1].inc()

    def text(self):
        return generate_latest(self.registry)
