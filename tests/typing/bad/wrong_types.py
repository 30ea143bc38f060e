"""Deliberately wrong programs: test_typing.py runs mypy on this folder and
expects exactly the errors marked `# E: <text>` on each line (mypy's
message must contain <text>)."""
from collections.abc import Generator

import lumos as ray
from lumos import ObjectRef


@ray.remote
def square(x: int) -> int:
    return x * x


@ray.remote
def shout(s: str) -> str:
    return s.upper()


@ray.remote
def numbers() -> Generator[int, None, None]:
    yield 1


def needs_int(x: int) -> int:
    return x


def main() -> None:
    text: ObjectRef[str] = shout.remote("a")
    square.remote(text)  # E: Argument 1 to "remote" of "RemoteFunction" has incompatible type "ObjectRef[str]"
    needs_int(text)  # E: Argument 1 to "needs_int" has incompatible type "ObjectRef[str]"; expected "int"
    square.remote("three")  # E: Argument 1 to "remote" of "RemoteFunction" has incompatible type "str"
    square.options(num_cpus=1).remote("three")  # E: Argument 1 to "remote" of "_BoundOptions" has incompatible type "str"
    square.remote(1, 2)  # E: Too many arguments for "remote" of "RemoteFunction"
    n: int = ray.get(text)  # E: Incompatible types in assignment (expression has type "str", variable has type "int")
    ns: list[int] = ray.get([text])  # E: List item 0 has incompatible type "ObjectRef[str]"; expected "ObjectRef[int]"
    r: ObjectRef[int] = ray.put("s")  # E: Argument 1 to "put" has incompatible type "str"; expected "int"
    ray.wait(text)  # E: Argument 1 to "wait" has incompatible type "ObjectRef[str]"
    square(3)  # E: "RemoteFunction[[int], int]" not callable
    one: ObjectRef[int] = numbers.remote()  # E: Incompatible types in assignment (expression has type "ObjectRefGenerator", variable has type "ObjectRef[int]")
    print(n, ns, r)
