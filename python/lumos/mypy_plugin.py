"""mypy plugin: the types of remote calls that plain typing cannot express.

Enable it in the mypy config of a program that uses lumos:

    [mypy]
    plugins = lumos.mypy_plugin

Plain typing cannot turn the methods of a class T into attributes of
ActorHandle[T] with a `.remote()` each, so the plugin does it:

- `@lumos.remote class T` (mypy ignores what a class decorator returns, so
  T stays a class) gets `T.remote(...)` with T.__init__'s parameters,
  giving an ActorHandle[T], and `T.options(...)`, an ActorClass[T].
- `handle.m` on an ActorHandle[T] is ActorMethod[P, R], P being T.m's
  parameters without self and R its result (the awaited result of an async
  method); `handle.m.remote(...)` is then checked against P and gives an
  ObjectRef[R]. A name T has no method for is an error.
- `ActorClass[T].remote(...)` is checked against T.__init__.
- `.remote()` of a function or method declared to return a Generator (or
  AsyncGenerator) gives an ObjectRefGenerator, as it streams by default.
- Every `.remote(...)` (functions, .options(), actor classes and methods)
  takes `x: X | ObjectRef[X]` where the function takes `x: X`: lumos passes
  the value of a ref given as an argument, so a ref of the wrong type is
  reported and a ref of the right type is not.

Without the plugin (mypy without it, or another checker) `handle.m` is
ActorMethod[..., Any]: any arguments, an ObjectRef[Any]. This module is
imported by mypy only, never by lumos at run time.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from mypy.checker import TypeChecker
from mypy.nodes import ARG_STAR, ARG_STAR2, Argument, FuncDef, TypeInfo, Var
from mypy.plugin import AttributeContext, ClassDefContext, MethodSigContext, Plugin
from mypy.plugins.common import add_method_to_class
from mypy.typevars import fill_typevars
from mypy.types import (AnyType, CallableType, FunctionLike, Instance, Parameters, Type,
                        TypeOfAny, UnionType, get_proper_type)

_REMOTE = "lumos.remote"
_HANDLE = "lumos.actor.ActorHandle"
_ACTOR_CLASS = "lumos.actor.ActorClass"
_OBJECT_REF = "lumos._raylet.ObjectRef"
_COROUTINES = ("typing.Coroutine", "collections.abc.Coroutine")
_GENERATORS = ("typing.Generator", "typing.AsyncGenerator", "collections.abc.Generator",
               "collections.abc.AsyncGenerator")
# The .remote() methods whose parameters also take refs of their types.
_REMOTE_CALLS = ("lumos.remote_function.RemoteFunction.remote", "lumos.remote_function._BoundOptions.remote",
                 "lumos.actor.ActorMethod.remote", "lumos.actor.ActorClass.remote")


def _or_ref(typ: Type, ref_of: Callable[[Type], Instance]) -> Type:
    """X | ObjectRef[X] for an argument of type X (Any stays Any)."""
    if isinstance(get_proper_type(typ), AnyType):
        return typ
    return UnionType.make_union([typ, ref_of(typ)])


def _checker_ref_of(ctx: MethodSigContext) -> Callable[[Type], Instance]:
    api = ctx.api
    assert isinstance(api, TypeChecker)

    def ref_of(t: Type) -> Instance:
        return api.named_generic_type("lumos.ObjectRef", [t])   # the checker looks names up from the package
    return ref_of


def _actor_class(handle_or_class: Type) -> Instance | None:
    """T of an ActorHandle[T] or ActorClass[T], when T is a known class."""
    outer = get_proper_type(handle_or_class)
    if not isinstance(outer, Instance) or not outer.args:
        return None
    target = get_proper_type(outer.args[0])
    return target if isinstance(target, Instance) else None


def _bound_member(ctx: AttributeContext | MethodSigContext, target: Instance, name: str) -> CallableType | None:
    """T.name bound to an instance (self dropped), when it is one plain callable."""
    assert isinstance(ctx.api, TypeChecker)
    member = get_proper_type(ctx.api.expr_checker.analyze_external_member_access(name, target, ctx.context))
    return member if isinstance(member, CallableType) else None


def _actor_method(name: str, ctx: AttributeContext) -> Type:
    """The type of `handle.<name>` for an ActorHandle[T]."""
    default = get_proper_type(ctx.default_attr_type)   # ActorMethod[..., Any]
    target = _actor_class(ctx.type)
    if target is None or not isinstance(default, Instance):
        return ctx.default_attr_type
    if target.type.get(name) is None:
        ctx.api.fail('Actor "%s" has no method "%s"' % (target.type.name, name), ctx.context)
        return AnyType(TypeOfAny.from_error)
    method = _bound_member(ctx, target, name)
    if method is None:   # overloaded, or not a method: accept any call
        return ctx.default_attr_type
    result = get_proper_type(method.ret_type)
    if isinstance(result, Instance) and result.type.fullname in _COROUTINES and len(result.args) == 3:
        result = get_proper_type(result.args[2])
    params = Parameters(method.arg_types, method.arg_kinds, method.arg_names, variables=method.variables)
    return default.copy_modified(args=[params, result])


def _remote_call(fullname: str, ctx: MethodSigContext) -> FunctionLike:
    """A .remote() whose arguments may be refs; ActorClass[T].remote also
    takes T.__init__'s parameters."""
    sig = ctx.default_signature
    if fullname == _ACTOR_CLASS + ".remote":
        target = _actor_class(ctx.type)
        init = _init_signature(target.type) if target is not None else None
        if init is not None:
            sig = sig.copy_modified(arg_types=init.arg_types[1:], arg_kinds=init.arg_kinds[1:],
                                    arg_names=init.arg_names[1:])
    ref_of = _checker_ref_of(ctx)
    return sig.copy_modified(arg_types=[_or_ref(t, ref_of) for t in sig.arg_types],
                             ret_type=_streamed(sig.ret_type, ctx))


def _streamed(ret: Type, ctx: MethodSigContext) -> Type:
    """ObjectRefGenerator for ObjectRef[Generator[...]]: a generator function
    or method streams its items by default (its declared return type is how
    the checker tells it is one)."""
    ref = get_proper_type(ret)
    if not (isinstance(ref, Instance) and ref.type.fullname == _OBJECT_REF and ref.args):
        return ret
    value = get_proper_type(ref.args[0])
    if isinstance(value, Instance) and value.type.fullname in _GENERATORS:
        assert isinstance(ctx.api, TypeChecker)
        return ctx.api.named_type("lumos.ObjectRefGenerator")
    return ret


def _init_signature(info: TypeInfo) -> CallableType | None:
    """The declared type of T.__init__, self included (None when untyped)."""
    init = info.get_method("__init__")
    sig = init.type if isinstance(init, FuncDef) else None
    return sig if isinstance(sig, CallableType) and sig.arg_types else None


def _init_arguments(info: TypeInfo, ref_of: Callable[[Type], Instance]) -> list[Argument]:
    """T.__init__'s parameters without self, each also taking a ref (any
    arguments when untyped)."""
    sig = _init_signature(info)
    if sig is None:
        anything = AnyType(TypeOfAny.unannotated)
        return [Argument(Var("args", anything), anything, None, ARG_STAR),
                Argument(Var("kwargs", anything), anything, None, ARG_STAR2)]
    return [Argument(Var(name or "_%d" % i, _or_ref(typ, ref_of)), _or_ref(typ, ref_of), None, kind)
            for i, (name, typ, kind) in enumerate(zip(sig.arg_names[1:], sig.arg_types[1:], sig.arg_kinds[1:]))]


def _remote_class(ctx: ClassDefContext) -> bool:
    """@lumos.remote on a class: adds the static methods `remote` and `options`."""
    handle = ctx.api.named_type_or_none(_HANDLE, [fill_typevars(ctx.cls.info)])
    actor_class = ctx.api.named_type_or_none(_ACTOR_CLASS, [fill_typevars(ctx.cls.info)])
    if handle is None or actor_class is None:
        return False   # lumos.actor not analysed yet: ask mypy to call again
    if ctx.api.named_type_or_none(_OBJECT_REF, [AnyType(TypeOfAny.special_form)]) is None:
        return False
    if ctx.cls.info.get("remote") is None:
        def ref_of(t: Type) -> Instance:
            return ctx.api.named_type(_OBJECT_REF, [t])
        add_method_to_class(ctx.api, ctx.cls, "remote", _init_arguments(ctx.cls.info, ref_of), handle,
                            is_staticmethod=True)
        anything = AnyType(TypeOfAny.explicit)
        add_method_to_class(ctx.api, ctx.cls, "options", [Argument(Var("options", anything), anything, None,
                                                                   ARG_STAR2)], actor_class, is_staticmethod=True)
    return True


class LumosPlugin(Plugin):
    def get_class_decorator_hook_2(self, fullname: str) -> Callable[[ClassDefContext], bool] | None:
        return _remote_class if fullname == _REMOTE else None

    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        owner, _, name = fullname.rpartition(".")
        if owner == _HANDLE and not name.startswith("_"):
            return functools.partial(_actor_method, name)
        return None

    def get_method_signature_hook(self, fullname: str) -> Callable[[MethodSigContext], FunctionLike] | None:
        return functools.partial(_remote_call, fullname) if fullname in _REMOTE_CALLS else None


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point."""
    return LumosPlugin
