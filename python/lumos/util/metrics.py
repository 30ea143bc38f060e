"""Application metrics (Ray's ray.util.metrics): Counter, Gauge, Histogram
with tags.

    requests = Counter("requests", description="served", tag_keys=("route",))
    requests.set_default_tags({"route": "/"})
    requests.inc()                       # route="/"
    requests.inc(2, tags={"route": "/a"})

Values are kept in the process that records them, in one registry keyed by
metric name (two objects with the same name and type share their values).
collect() returns a snapshot of this process's metrics, and
prometheus_text() renders it in Prometheus's text format. A process with
metrics reports them to the GCS every 2 s (_private/metrics_reporter.py);
the dashboard serves every process's at /metrics, labelled by pid and host.

Checks (ValueError/TypeError at once, as in Ray): names follow Prometheus
([a-zA-Z_:][a-zA-Z0-9_:]*), tag keys are strings, every tag key gets a
value (from tags= or the default tags), no tag outside tag_keys, tag values
are strings, Counter increments are > 0, Histogram boundaries are positive
and increasing.
"""
import math
import re
import threading

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_lock = threading.Lock()
_registry: dict = {}  # name -> _Series


class _Series:
    """Every tag combination's value of one metric (guarded by _lock)."""

    def __init__(self, kind, name, description, tag_keys, boundaries=None):
        self.kind = kind
        self.name = name
        self.description = description
        self.tag_keys = tag_keys
        self.boundaries = boundaries
        self.values = {}  # tuple of tag values (in tag_keys order) -> float, or [buckets, sum, count]


class Metric:
    """Base of Counter, Gauge and Histogram."""
    _kind: str | None = None

    def __init__(self, name, description="", tag_keys=None, _boundaries=None):
        if not isinstance(name, str) or not name:
            raise ValueError("Empty name is not allowed: a metric needs a name")
        if not _NAME.match(name):
            raise ValueError("metric name %r is not valid: use letters, digits, '_' and ':' (not starting with a "
                             "digit), as Prometheus requires" % (name,))
        if not isinstance(description, str):
            raise TypeError("description must be a string, got %r" % (description,))
        tag_keys = () if tag_keys is None else tag_keys
        if not isinstance(tag_keys, tuple):
            raise TypeError("tag_keys must be a tuple of strings, got %s %r" % (type(tag_keys).__name__, tag_keys))
        for k in tag_keys:
            if not isinstance(k, str):
                raise TypeError("tag_keys must be strings, got %r in %r" % (k, tag_keys))
        self._name = name
        self._description = description
        self._tag_keys = tag_keys
        self._default_tags = {}
        with _lock:
            series = _registry.get(name)
            if series is None:
                series = _registry[name] = _Series(self._kind, name, description, tag_keys, _boundaries)
            elif series.kind != self._kind or series.tag_keys != tag_keys or series.boundaries != _boundaries:
                raise ValueError("metric %r already exists in this process as a %s with tag_keys %r%s; use the same "
                                 "type and tag keys, or another name" % (
                                     name, series.kind, series.tag_keys,
                                     " and boundaries %r" % (series.boundaries,) if series.boundaries else ""))
        self._series = series
        from lumos._private import metrics_reporter
        metrics_reporter.ensure_started(collect)  # the dashboard's /metrics reads what it reports

    @property
    def info(self):
        """name, description, tag_keys and default_tags of this metric."""
        return {"name": self._name, "description": self._description, "tag_keys": self._tag_keys,
                "default_tags": dict(self._default_tags)}

    def set_default_tags(self, default_tags):
        """Tags used when a record does not give them; returns self."""
        self._check_tag_dict(default_tags, "default_tags")
        self._default_tags = dict(default_tags)
        return self

    def _check_tag_dict(self, tags, what):
        if not isinstance(tags, dict):
            raise TypeError("%s must be a dict of tag key -> str, got %r" % (what, tags))
        extra = [k for k in tags if k not in self._tag_keys]
        if extra:
            raise ValueError("Unrecognized tag keys %r for metric %r (its tag_keys are %r)" % (
                extra, self._name, self._tag_keys))
        for k, v in tags.items():
            if not isinstance(v, str):
                raise TypeError("Tag values must be str: %s=%r for metric %r" % (k, v, self._name))

    def _key(self, tags):
        merged = dict(self._default_tags)
        if tags:
            self._check_tag_dict(tags, "tags")
            merged.update(tags)
        missing = [k for k in self._tag_keys if k not in merged]
        if missing:
            raise ValueError("Missing value for tag key(s): %s (metric %r); give them in tags= or "
                             "set_default_tags()" % (", ".join(missing), self._name))
        return tuple(merged[k] for k in self._tag_keys)


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError("%s must be a finite number, got %r" % (what, value))
    return float(value)


class Counter(Metric):
    """A cumulative count that only goes up (inc)."""
    _kind = "counter"

    def inc(self, value=1.0, tags=None):
        value = _number(value, "value")
        if value <= 0:
            raise ValueError("value must be >0, got %r (a Counter only goes up)" % (value,))
        key = self._key(tags)
        with _lock:
            self._series.values[key] = self._series.values.get(key, 0.0) + value


class Gauge(Metric):
    """A value that is set (set): the last one recorded counts."""
    _kind = "gauge"

    def set(self, value, tags=None):
        value = _number(value, "value")
        key = self._key(tags)
        with _lock:
            self._series.values[key] = value


class Histogram(Metric):
    """Counts of observed values per bucket: `boundaries` are the buckets'
    upper bounds (positive, increasing); a last bucket takes the rest."""
    _kind = "histogram"

    def __init__(self, name, description="", boundaries=None, tag_keys=None):
        if not boundaries:
            raise ValueError("boundaries must be a non-empty list of positive, increasing numbers, got %r"
                             % (boundaries,))
        bounds = []
        for i, b in enumerate(boundaries):
            b = _number(b, "boundaries[%d]" % i)
            if b <= 0 or (bounds and b <= bounds[-1]):
                raise ValueError("Invalid boundaries %r at index %d: use positive, increasing values" % (
                    list(boundaries), i))
            bounds.append(b)
        super().__init__(name, description, tag_keys, _boundaries=tuple(bounds))
        self.boundaries = list(bounds)

    def observe(self, value, tags=None):
        value = _number(value, "value")
        key = self._key(tags)
        bounds = self._series.boundaries
        index = next((i for i, b in enumerate(bounds) if value <= b), len(bounds))
        with _lock:
            entry = self._series.values.get(key)
            if entry is None:
                entry = self._series.values[key] = [[0] * (len(bounds) + 1), 0.0, 0]
            entry[0][index] += 1
            entry[1] += value
            entry[2] += 1


def collect():
    """This process's metrics now: a list of {"name", "type", "description",
    "tag_keys", "samples"}; a sample is {"tags": {...}, "value": float}, or
    for a histogram {"tags", "buckets" (counts per bucket, not cumulative),
    "sum", "count"} plus the metric's "boundaries"."""
    out = []
    with _lock:
        for series in _registry.values():
            samples = []
            for key, v in series.values.items():
                tags = dict(zip(series.tag_keys, key))
                if series.kind == "histogram":
                    samples.append({"tags": tags, "buckets": list(v[0]), "sum": v[1], "count": v[2]})
                else:
                    samples.append({"tags": tags, "value": v})
            entry = {"name": series.name, "type": series.kind, "description": series.description,
                     "tag_keys": series.tag_keys, "samples": samples}
            if series.boundaries:
                entry["boundaries"] = list(series.boundaries)
            out.append(entry)
    return out


def _labels(tags, extra=None):
    items = list(tags.items()) + list((extra or {}).items())
    if not items:
        return ""
    escaped = ('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"'))
               for k, v in items)
    return "{" + ",".join(escaped) + "}"


def prometheus_text(metrics=None):
    """`metrics` (default: collect()) in Prometheus's text exposition format."""
    lines = []
    for m in collect() if metrics is None else metrics:
        lines.append("# HELP %s %s" % (m["name"], m["description"].replace("\n", " ")))
        lines.append("# TYPE %s %s" % (m["name"], m["type"]))
        for s in m["samples"]:
            if m["type"] != "histogram":
                lines.append("%s%s %r" % (m["name"], _labels(s["tags"]), s["value"]))
                continue
            running = 0
            for bound, n in zip(m["boundaries"] + ["+Inf"], s["buckets"]):
                running += n
                lines.append("%s_bucket%s %d" % (m["name"], _labels(s["tags"], {"le": bound}), running))
            lines.append("%s_sum%s %r" % (m["name"], _labels(s["tags"]), s["sum"]))
            lines.append("%s_count%s %d" % (m["name"], _labels(s["tags"]), s["count"]))
    return "\n".join(lines) + ("\n" if lines else "")


__all__ = ["Counter", "Gauge", "Histogram", "collect", "prometheus_text"]
