"""mypy plugin: actor handles that know their class's methods.

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

Without the plugin (pyright, or mypy without it) `handle.m` is
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
from mypy.types import (AnyType, CallableType, FunctionLike, Instance, Parameters, Type, TypeOfAny,
                        get_proper_type)

_REMOTE = "lumos.remote"
_HANDLE = "lumos.actor.ActorHandle"
_ACTOR_CLASS = "lumos.actor.ActorClass"
_ACTOR_CLASS_REMOTE = "lumos.actor.ActorClass.remote"
_COROUTINES = ("typing.Coroutine", "collections.abc.Coroutine")


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


def _actor_class_remote(ctx: MethodSigContext) -> FunctionLike:
    """ActorClass[T].remote takes T.__init__'s parameters."""
    target = _actor_class(ctx.type)
    init = _bound_member(ctx, target, "__init__") if target is not None else None
    if init is None:
        return ctx.default_signature
    return ctx.default_signature.copy_modified(arg_types=init.arg_types, arg_kinds=init.arg_kinds,
                                               arg_names=init.arg_names)


def _init_arguments(info: TypeInfo) -> list[Argument]:
    """T.__init__'s parameters without self (any arguments when untyped)."""
    init = info.get_method("__init__")
    sig = init.type if isinstance(init, FuncDef) else None
    if not isinstance(sig, CallableType) or info.get("__init__") is None or not sig.arg_types:
        anything = AnyType(TypeOfAny.unannotated)
        return [Argument(Var("args", anything), anything, None, ARG_STAR),
                Argument(Var("kwargs", anything), anything, None, ARG_STAR2)]
    return [Argument(Var(name or "_%d" % i, typ), typ, None, kind)
            for i, (name, typ, kind) in enumerate(zip(sig.arg_names[1:], sig.arg_types[1:], sig.arg_kinds[1:]))]


def _remote_class(ctx: ClassDefContext) -> bool:
    """@lumos.remote on a class: adds the static methods `remote` and `options`."""
    handle = ctx.api.named_type_or_none(_HANDLE, [fill_typevars(ctx.cls.info)])
    actor_class = ctx.api.named_type_or_none(_ACTOR_CLASS, [fill_typevars(ctx.cls.info)])
    if handle is None or actor_class is None:
        return False   # lumos.actor not analysed yet: ask mypy to call again
    if ctx.cls.info.get("remote") is None:
        add_method_to_class(ctx.api, ctx.cls, "remote", _init_arguments(ctx.cls.info), handle,
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
        return _actor_class_remote if fullname == _ACTOR_CLASS_REMOTE else None


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point."""
    return LumosPlugin
