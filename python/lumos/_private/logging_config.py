"""lumos.LoggingConfig (Ray's ray.LoggingConfig): how Python's logging is
set up in the driver and in every worker that runs the job's tasks.

`init(logging_config=LoggingConfig(encoding="JSON", log_level="DEBUG"))`
configures the root logger of the driver at init, and of each worker when it
first runs a task of that job (the config travels in the job's GCS entry).
One handler to stderr (a worker's stderr reaches the driver like print
output) with a TEXT or JSON formatter; each record carries the job, worker
and node ids, and the task and actor ids while a task or actor call runs.
Applying a config replaces the handler an earlier apply() installed and
nothing else (handlers the user added stay).
"""
import json
import logging
import sys
import time

ENCODINGS = ("TEXT", "JSON")
_LEVELS = ("CRITICAL", "FATAL", "ERROR", "WARN", "WARNING", "INFO", "DEBUG", "NOTSET")
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_TEXT_FORMAT = "%(asctime)s\t%(levelname)s %(filename)s:%(lineno)s -- %(message)s"


class LoggingConfig:
    """encoding: "TEXT" or "JSON"; log_level: a logging level name;
    additional_log_standard_attrs: LogRecord attributes (e.g. "name",
    "funcName") added to each line."""

    def __init__(self, encoding="TEXT", log_level="INFO", additional_log_standard_attrs=None):
        if encoding not in ENCODINGS:
            raise ValueError("Invalid encoding type: %r. Valid encoding types are: %s" % (encoding, list(ENCODINGS)))
        if not isinstance(log_level, str) or log_level.upper() not in _LEVELS:
            raise ValueError("Invalid log_level %r: use one of %s" % (log_level, list(_LEVELS)))
        attrs = list(additional_log_standard_attrs or [])
        bad = [a for a in attrs if a not in _STANDARD_ATTRS]
        if bad:
            raise ValueError("additional_log_standard_attrs %r are not LogRecord attributes; valid: %s" % (
                bad, sorted(_STANDARD_ATTRS)))
        self.encoding = encoding
        self.log_level = log_level.upper()
        self.additional_log_standard_attrs = attrs

    def to_dict(self):
        return {"encoding": self.encoding, "log_level": self.log_level,
                "additional_log_standard_attrs": list(self.additional_log_standard_attrs)}

    @classmethod
    def from_dict(cls, d):
        return cls(**d)

    def __repr__(self):
        return "LoggingConfig(encoding=%r, log_level=%r, additional_log_standard_attrs=%r)" % (
            self.encoding, self.log_level, self.additional_log_standard_attrs)


def _context():
    """The ids of where this record is written (empty before lumos connects).
    Looked up through sys.modules so this module imports no lumos module."""
    worker = sys.modules.get("lumos._private.worker")
    state = worker.global_state() if worker is not None else None
    cw = getattr(state, "core_worker", None)
    if cw is None:
        return {}
    out = {}
    try:
        out["job_id"] = cw.job_id
        out["worker_id"] = cw.worker_id
        out["node_id"] = cw.node_id
        task = cw.current_task_id() if state.mode == worker.WORKER_MODE else None
        if task:
            out["task_id"] = task
            out["job_id"] = task[24:32]
        actor = getattr(state, "actor", None)
        if actor is not None:
            out["actor_id"] = actor.actor_id.hex()
    except Exception:  # a core worker shutting down: log without ids
        pass
    return out


class _Formatter(logging.Formatter):
    def __init__(self, config):
        super().__init__(_TEXT_FORMAT)
        self._config = config

    def format(self, record):
        extra = _context()
        for attr in self._config.additional_log_standard_attrs:
            extra[attr] = getattr(record, attr, None)
        if self._config.encoding == "TEXT":
            line = super().format(record)
            return line + "".join(" %s=%s" % kv for kv in extra.items())
        out = {"asctime": self.formatTime(record), "levelname": record.levelname, "message": record.getMessage(),
               "filename": record.filename, "lineno": record.lineno, "timestamp_ns": time.time_ns()}
        if record.exc_info:
            out["exc_text"] = self.formatException(record.exc_info)
        out.update(extra)
        return json.dumps(out, default=str)


_installed: list = []  # the handler the last apply() added to the root logger


def apply(config):
    """Sets up the root logger for `config` (a LoggingConfig or its dict)."""
    if isinstance(config, dict):
        config = LoggingConfig.from_dict(config)
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
    _installed.clear()
    handler = logging.StreamHandler()  # sys.stderr now (in a worker: the forwarder to the driver)
    handler.setFormatter(_Formatter(config))
    root.addHandler(handler)
    root.setLevel(config.log_level)
    _installed.append(handler)
