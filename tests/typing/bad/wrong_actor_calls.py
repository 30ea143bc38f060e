"""Deliberately wrong actor calls (see wrong_types.py for the `# E:` marks)."""
import lumos as ray


@ray.remote
class Counter:
    def __init__(self, start: int) -> None:
        self.n = start

    def incr(self, by: int) -> int:
        self.n += by
        return self.n


def main() -> None:
    c = Counter.remote(0)
    c.incr.remote()  # E: Missing positional argument "by" in call to "remote" of "ActorMethod"
    c.incr.remote(1, 2)  # E: Too many arguments for "remote" of "ActorMethod"
    c.incr.remote("one")  # E: Argument 1 to "remote" of "ActorMethod" has incompatible type "str"
    c.decr.remote(1)  # E: Actor "Counter" has no method "decr"
    Counter.remote("zero")  # E: Argument 1 to "remote" of "Counter" has incompatible type "str"
    Counter.options(name="c").remote()  # E: Missing positional argument "start" in call to "remote" of "ActorClass"
    s: str = ray.get(c.incr.remote(1))  # E: Incompatible types in assignment (expression has type "int", variable has type "str")
    print(s)
