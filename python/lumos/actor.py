"""Actors: not built yet in lumos (they are the next issue). Decorating a class
with @lumos.remote raises a clear error instead of pretending."""


class ActorNotBuiltError(RuntimeError):
    pass


def _not_built(what):
    return ActorNotBuiltError(
        "%s: actors are not built in this version of lumos yet; only remote functions (tasks) and "
        "objects are. Use a remote function, or run this program on Ray for now." % what)


def make_actor(cls, options):
    raise _not_built("@lumos.remote on class %s" % cls.__name__)


def exit_actor():
    raise _not_built("lumos.actor.exit_actor()")


def method(*args, **kwargs):
    """@lumos.method(num_returns=...) is accepted so actor classes can be defined."""
    def decorate(fn):
        fn.__lumos_method_options__ = kwargs
        return fn
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return decorate(args[0])
    return decorate
