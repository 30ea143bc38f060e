"""Exporting functions once per job through the GCS KV store, and loading
them (cached) in workers."""
import hashlib
import json
import sys
import threading

import cloudpickle

from lumos._private import logging_config

FUNCTION_NS = b"fun"
JOB_NS = b"job"


def function_key(job_id, function_id):
    return job_id + b":" + function_id


class FunctionExporter:
    """Driver side: pickles a function once and stores it under its hash."""

    def __init__(self, gcs, job_id):
        self._gcs = gcs
        self._job_id = job_id
        self._exported = set()
        self._lock = threading.Lock()

    def export(self, pickled):
        function_id = hashlib.sha1(pickled).digest()[:16]
        with self._lock:
            if function_id in self._exported:
                return function_id
        self._gcs.kv_put(FUNCTION_NS, function_key(self._job_id, function_id), pickled, False)
        with self._lock:
            self._exported.add(function_id)
        return function_id


class FunctionLoader:
    """Worker side: fetches and unpickles functions, once per (job, function)."""

    def __init__(self, gcs, job_namespaces=None, keep_first=()):
        self._gcs = gcs
        # sys.path entries that stay ahead of the driver's (a runtime_env's
        # working_dir and py_modules, which Ray puts first).
        self._keep_first = set(keep_first)
        self._cache = {}
        self._jobs_seen = set()
        self._job_namespaces = job_namespaces if job_namespaces is not None else {}

    def _prepare_job(self, job_id):
        # The driver's sys.path, so functions pickled by reference import here too.
        self._jobs_seen.add(job_id)
        raw = self._gcs.kv_get(JOB_NS, job_id)
        if not raw:
            return
        config = json.loads(raw)
        self._job_namespaces[job_id.hex()] = config.get("namespace", "")
        if config.get("logging_config"):  # init(logging_config=...) of the job's driver
            logging_config.apply(config["logging_config"])
        at = 0
        while at < len(sys.path) and sys.path[at] in self._keep_first:
            at += 1
        for p in reversed(config.get("sys_path", [])):
            if p not in sys.path:
                sys.path.insert(at, p)

    def load(self, job_id, function_id, name):
        key = (job_id, function_id)
        fn = self._cache.get(key)
        if fn is not None:
            return fn
        if job_id not in self._jobs_seen:
            self._prepare_job(job_id)
        pickled = self._gcs.kv_get(FUNCTION_NS, function_key(job_id, function_id))
        if pickled is None:
            raise RuntimeError("function %s was not exported by its driver (job %s)" % (name, job_id.hex()))
        fn = cloudpickle.loads(pickled)
        self._cache[key] = fn
        return fn
