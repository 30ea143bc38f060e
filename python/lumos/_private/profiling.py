"""Ray's path to profile spans (`ray._private.profiling.profile`); the
implementation is lumos.util.profiling."""
from lumos.util.profiling import profile  # noqa: F401
