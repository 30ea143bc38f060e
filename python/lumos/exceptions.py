"""lumos exceptions, named like Ray's so `except ray.exceptions.X` keeps working.

Exceptions that mirror a builtin also subclass it (GetTimeoutError is a
TimeoutError), and RayTaskError.as_instanceof_cause() makes a remote
ValueError catchable with `except ValueError`.
"""


class RayError(Exception):
    """Base of every lumos error."""


class RaySystemError(RayError):
    """lumos itself failed (lost connection, protocol error, ...)."""

    def __init__(self, message, traceback_str=None):
        super().__init__(message)
        self.traceback_str = traceback_str


class RayTaskError(RayError):
    """A task raised: carries the remote exception (`cause`) and its traceback."""

    def __init__(self, function_name, traceback_str, cause, proctitle=None, pid=None, ip=None):
        self.function_name = function_name
        self.traceback_str = traceback_str
        self.cause = cause
        self.pid = pid
        self.ip = ip or "127.0.0.1"
        self.proctitle = proctitle or "lumos::%s()" % function_name
        super().__init__(self._message())

    def _message(self):
        cause_name = type(self.cause).__name__ if self.cause is not None else "Exception"
        header = "%s(%s): %s (pid=%s, ip=%s)" % (
            "RayTaskError", cause_name, self.proctitle, self.pid, self.ip)
        return header + "\n" + (self.traceback_str or "").rstrip()

    def __str__(self):
        return self._message()

    def as_instanceof_cause(self):
        """An exception that is both this RayTaskError and the cause's class."""
        cause_cls = type(self.cause)
        if self.cause is None or isinstance(self.cause, RayTaskError) or cause_cls is RayTaskError:
            return self
        if not _can_subclass(cause_cls):
            return self
        name = "RayTaskError(%s)" % cause_cls.__name__
        cls = _DUAL_CLASSES.get(cause_cls)
        if cls is None:
            def __init__(s, cause):
                s.cause = cause
                s.args = (cause,) if not getattr(cause, "args", None) else cause.args

            def __getattr__(s, attr):
                return getattr(s.cause, attr)

            cls = type(name, (RayTaskError, cause_cls), {
                "__init__": __init__, "__getattr__": __getattr__,
                "__str__": lambda s: RayTaskError._message(s),
                "__reduce__": lambda s: (_rebuild_dual, (s.function_name, s.traceback_str, s.cause, s.proctitle, s.pid, s.ip)),
            })
            cls.__module__ = "lumos.exceptions"
            _DUAL_CLASSES[cause_cls] = cls
        err = cls(self.cause)
        err.function_name = self.function_name
        err.traceback_str = self.traceback_str
        err.proctitle = self.proctitle
        err.pid = self.pid
        err.ip = self.ip
        return err

    def __reduce__(self):
        return (RayTaskError, (self.function_name, self.traceback_str, self.cause, self.proctitle, self.pid, self.ip))


_DUAL_CLASSES: dict[type, type] = {}  # cause class -> its RayTaskError subclass


def _rebuild_dual(function_name, traceback_str, cause, proctitle, pid, ip):
    return RayTaskError(function_name, traceback_str, cause, proctitle, pid, ip).as_instanceof_cause()


def _can_subclass(cls):
    try:
        type("_probe", (RayTaskError, cls), {})
        return True
    except TypeError:
        return False


class WorkerCrashedError(RayError):
    """The worker running the task died (crash, signal, OOM kill)."""


class RayActorError(RayError):
    """The actor died or could not be created."""


class ActorDiedError(RayActorError):
    pass


class ObjectLostError(RayError):
    """The object's value is gone and cannot be recovered."""


class OwnerDiedError(ObjectLostError):
    """The process that owned the object exited."""


class ObjectFreedError(ObjectLostError):
    pass


class ObjectReconstructionFailedError(ObjectLostError):
    """The object was lost and re-executing the task that made it was not
    possible (no lineage, max_retries used up, or a lost argument)."""


class ObjectStoreFullError(RayError, MemoryError):
    """The object store has no room for the object."""


class OutOfMemoryError(RayError):
    pass


class GetTimeoutError(RayError, TimeoutError):
    """`get` did not finish within its timeout."""


class TaskCancelledError(RayError):
    pass


class RuntimeEnvSetupError(RayError):
    pass


class PendingCallsLimitExceeded(RayError):
    pass


class NodeDiedError(RayError):
    pass


class RayChannelError(RaySystemError):
    pass


class TaskPlacementGroupRemoved(RayError):
    """The task's placement group was removed: it was killed while running
    in the group, or could never start there."""


class ActorPlacementGroupRemoved(RayError):
    """The actor's placement group was removed (its calls fail)."""


class ActorDiedInRemovedGroupError(ActorDiedError, ActorPlacementGroupRemoved):
    """A call to an actor that was killed because its placement group was
    removed: both ActorDiedError and ActorPlacementGroupRemoved."""


class ActorUnavailableError(RayActorError):
    """The actor cannot be reached for now (e.g. it is restarting) but may
    come back; the call may or may not have run."""


class ActorUnschedulableError(RayError):
    """The actor can never be placed (e.g. a hard node affinity to a node
    that is not alive)."""


class TaskUnschedulableError(RayError):
    """The task can never be placed (e.g. a hard node affinity to a node that
    is not alive)."""


class ActorAlreadyExistsError(RayError, ValueError):
    """An actor with this name already lives in the namespace. Also a
    ValueError, which is what older code catches."""


class ActorHandleNotFoundError(RayError, ValueError):
    """The actor handle is not known to this process (e.g. it belongs to an
    earlier session)."""


class AsyncioActorExit(RayError):
    """Raised inside an async actor by exit_actor(): the actor ends on purpose."""


class LocalRayletDiedError(RayError):
    """The raylet of this node died, taking the task with it."""


class ObjectFetchTimedOutError(ObjectLostError):
    """No copy of the object could be fetched in time."""


class ReferenceCountingAssertionError(ObjectLostError, AssertionError):
    """The object was freed while a reference to it was still held (a bug)."""


class ObjectRefStreamEndOfStreamError(RayError):
    """A streaming generator has no item at the index asked for: the stream
    ended before it. `next()` turns this into StopIteration."""


class OutOfDiskError(RayError):
    """The object could not be stored: the store is full and so is the disk
    it spills to."""


class RpcError(RayError):
    """A call between lumos processes failed; `rpc_code` is the transport's
    code when known."""

    def __init__(self, message, rpc_code=None):
        super().__init__(message)
        self.message = message
        self.rpc_code = rpc_code

    def __reduce__(self):
        return (RpcError, (self.message, self.rpc_code))


class UnserializableException(RayError):
    """A task raised an exception that could not be unpickled where it was
    fetched; carries the original exception's text and traceback."""

    def __init__(self, original_stack_trace):
        super().__init__(original_stack_trace)
        self.original_stack_trace = original_stack_trace

    def __str__(self):
        return ("The task's exception could not be deserialized here (register a custom serializer for its "
                "class, or raise a picklable exception). The original exception:\n%s"
                % self.original_stack_trace)


class _OutOfDiskStoreFull(OutOfDiskError, ObjectStoreFullError):
    """A put the store could not take because spilling hit a full disk:
    OutOfDiskError as in Ray, and still the ObjectStoreFullError lumos
    raised before."""


_DISK_FULL = ("No space left on device", "Disk quota exceeded")


def store_full_error(message):
    """The error for a put the object store refused with `message`:
    OutOfDiskError when spilling failed on a full disk, else
    ObjectStoreFullError."""
    if any(m in message for m in _DISK_FULL):
        return _OutOfDiskStoreFull(message)
    return ObjectStoreFullError(message)


class AuthenticationError(RayError):
    """A connection to the cluster was refused: its token is missing or does
    not match the cluster's."""


__all__ = [name for name, value in list(globals().items())
           if isinstance(value, type) and issubclass(value, BaseException) and not name.startswith("_")]
