"""GPUs: the node's GPU count at start (NVML detection through the compiled
lumos._accelerators module, CUDA_VISIBLE_DEVICES), and in a worker the GPUs of
the running task (CUDA_VISIBLE_DEVICES set per task, lumos.get_gpu_ids()).

The raylet numbers the node's GPUs 0..n-1 in the order of the node's visible
devices. A worker inherits the node's CUDA_VISIBLE_DEVICES; it maps an id to
that list's entry (or to the id itself when the variable is unset).
"""
import logging
import math
import os

logger = logging.getLogger("lumos")

ENV = "CUDA_VISIBLE_DEVICES"
# Fixed point of the raylet's resource amounts (ResourceSet::kUnit).
RESOURCE_DECIMALS = 4
# Ray's convention: accelerator_type="A100" adds this much of the node
# resource "accelerator_type:A100" (a node with such GPUs has 1 of it).
ACCELERATOR_TYPE_DEMAND = 0.001
ACCELERATOR_RESOURCE_PREFIX = "accelerator_type:"

# The node's list, as this process inherited it (before any task changed it).
_node_visible = os.environ.get(ENV)
_assigned: list = []    # ids of the running task (or of the actor hosted here)
_env_value = None       # the CUDA_VISIBLE_DEVICES value this module last set


def check_amount(name, value):
    """ValueError unless `value` is a non-negative amount with at most 4 decimals."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("%s must be a number, got %r" % (name, value))
    if not math.isfinite(value) or value < 0:
        raise ValueError("%s must be a non-negative number, got %r" % (name, value))
    if isinstance(value, float):
        scaled = value * 10 ** RESOURCE_DECIMALS
        if abs(scaled - round(scaled)) > 1e-6 * max(1.0, abs(scaled)):
            raise ValueError("%s=%r has more than %d decimal places; resource amounts are counted in "
                             "units of %s (round it, e.g. to %r)" % (
                                 name, value, RESOURCE_DECIMALS, 10 ** -RESOURCE_DECIMALS,
                                 round(value, RESOURCE_DECIMALS)))


def check_gpu_request(value):
    """num_gpus of a task or actor: an amount; above 1 only whole GPUs."""
    check_amount("num_gpus", value)
    if value is not None and value > 1 and float(value) != int(value):
        raise ValueError("num_gpus=%r: a request above 1 GPU must be a whole number (fractions pack "
                         "tasks onto one GPU, so use num_gpus <= 1 or an integer)" % (value,))


def accelerator_resource(accelerator_type):
    """The node resource name of an accelerator type, e.g. 'accelerator_type:A100'."""
    return ACCELERATOR_RESOURCE_PREFIX + accelerator_type


def check_accelerator_type(value):
    if value is not None and (not isinstance(value, str) or not value or ":" in value):
        raise ValueError("accelerator_type must be a GPU model name such as 'A100' or 'V100', got %r" % (value,))


def detect(library=None):
    """What lumos._accelerators.detect_gpus finds (ValueError for a bad
    CUDA_VISIBLE_DEVICES); NVML failures give 0 GPUs and a debug log."""
    try:
        from lumos import _accelerators
    except ImportError as e:  # a build without the module: no detection
        logger.debug("GPU detection unavailable (lumos._accelerators: %s); assuming no GPU", e)
        return {"nvml_loaded": False, "nvml_error": str(e), "devices": [], "visible": [], "num_gpus": 0,
                "accelerator_type": None, "cuda_visible_devices": _parse_env(os.environ.get(ENV))}
    info = _accelerators.detect_gpus(library)
    if not info["nvml_loaded"]:
        logger.debug("no GPU detected: %s", info["nvml_error"])
    return info


def _parse_env(value):
    if value is None:
        return None
    value = value.strip()
    if value in ("", "NoDevFiles"):
        return []
    out = []
    for entry in (e.strip() for e in value.split(",")):
        if entry.lstrip("-").isdigit() and int(entry) < 0:
            break
        out.append(entry)
    return out


def node_gpus(num_gpus):
    """(num_gpus, accelerator_type) of a node being started. num_gpus=None:
    the detected GPUs that CUDA_VISIBLE_DEVICES lets through. A given num_gpus
    may not exceed the CUDA_VISIBLE_DEVICES list, nor the detected GPUs when
    there are any (on a machine without GPUs it declares logical GPUs)."""
    if num_gpus is not None:
        check_amount("num_gpus", num_gpus)
        if float(num_gpus) != int(num_gpus):
            raise ValueError("num_gpus=%r: a node has a whole number of GPUs" % (num_gpus,))
        num_gpus = int(num_gpus)
    info = detect()
    visible = info["cuda_visible_devices"]
    if num_gpus is None:
        return info["num_gpus"], info["accelerator_type"]
    if visible is not None and num_gpus > len(visible):
        raise ValueError("num_gpus=%d but CUDA_VISIBLE_DEVICES=%r makes only %d GPU(s) visible; lower "
                         "num_gpus or list more devices" % (num_gpus, os.environ.get(ENV), len(visible)))
    if visible is None and info["nvml_loaded"] and info["devices"] and num_gpus > len(info["devices"]):
        raise ValueError("num_gpus=%d but this machine has %d GPU(s) (detected with NVML); lower num_gpus"
                         % (num_gpus, len(info["devices"])))
    return num_gpus, (info["accelerator_type"] if num_gpus else None)


# ---------------------------------------------------------------- worker side

def _device_entry(gpu_id):
    if _node_visible is None:
        return str(gpu_id)
    entries = _parse_env(_node_visible)
    return entries[gpu_id] if gpu_id < len(entries) else str(gpu_id)


def assign_gpus(ids):
    """Called by the core worker before each task (and an actor's creation):
    the GPUs of its lease. Sets CUDA_VISIBLE_DEVICES for the task's run; a task
    without GPUs sees none (like Ray)."""
    global _assigned, _env_value
    _assigned = list(ids)
    value = ",".join(_device_entry(i) for i in _assigned)
    if value != _env_value or os.environ.get(ENV) != value:
        os.environ[ENV] = value
        _env_value = value


def get_gpu_ids() -> "list[int | str]":
    """The GPUs of the running task or actor, as CUDA names them in this
    process's parent environment: ints, or strings for UUID entries. Empty in
    the driver (lumos does not assign GPUs to it: only a worker's executor
    calls assign_gpus)."""
    out: "list[int | str]" = []
    for i in _assigned:
        entry = _device_entry(i)
        out.append(int(entry) if entry.isdigit() else entry)
    return out
