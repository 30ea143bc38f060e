"""Metrics of the dashboard:

    GET /metrics                 Prometheus text: cluster gauges and every
                                 process's lumos.util.metrics
    GET /api/timeseries[?since=MS]  the built-in history (timeseries.Ring):
                                 {"interval_s", "series": [names], "samples":
                                 [[time_ms, {name: value}], ...]}
    GET /api/app_metrics         the processes' raw reports
"""
from lumos.dashboard import app_metrics, shared
from lumos.dashboard.routing import HttpError, Response


def register(router, ctx):
    data = shared.cluster(ctx)
    sampler = shared.sampler(ctx)  # starts sampling now, so charts have a history when opened

    def metrics(request, params):
        return Response.text(app_metrics.exposition(data), content_type="text/plain; version=0.0.4; charset=utf-8")

    def timeseries(request, params):
        try:
            since = int(request.query.get("since") or 0)
        except ValueError:
            raise HttpError(400, "since must be milliseconds since the epoch (an integer)") from None
        samples = sampler.ring.snapshot(since)
        names = sorted({k for _, values in samples for k in values})
        return Response.json({"interval_s": sampler.interval_s, "capacity": sampler.ring.capacity,
                              "series": names, "samples": samples})

    def app(request, params):
        return Response.json({"reports": app_metrics.reports(data)})

    router.add("GET", "/metrics", metrics)
    router.add("GET", "/api/timeseries", timeseries)
    router.add("GET", "/api/app_metrics", app)
