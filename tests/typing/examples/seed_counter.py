"""seeds/001: a counter actor; its handle's methods keep their signatures."""
import lumos as ray
from lumos import ObjectRef
from lumos.actor import ActorHandle


@ray.remote
class Counter:
    def __init__(self, start: int = 0) -> None:
        self.count = start
        self.history: list[tuple[str, int, int]] = []

    def increment(self, delta: int = 1) -> int:
        self.count += delta
        self.history.append(("increment", delta, self.count))
        return self.count

    def get_count(self) -> int:
        return self.count

    def get_history(self) -> list[tuple[str, int, int]]:
        return self.history

    async def describe(self) -> str:
        return "Counter(%d)" % self.count


def bump(counter: ActorHandle[Counter], times: int) -> list[ObjectRef[int]]:
    return [counter.increment.remote(i) for i in range(times)]


def main() -> None:
    counter = Counter.remote(10)
    refs = bump(counter, 4)
    last: int = ray.get(refs)[-1]
    assert last == 16, last
    history: list[tuple[str, int, int]] = ray.get(counter.get_history.remote())
    assert len(history) == 4
    name: str = ray.get(counter.describe.remote())
    # A ref where the method takes an int: lumos passes its value.
    assert ray.get(counter.increment.remote(ray.put(4))) == 20
    named = Counter.options(name="c2").remote()
    print(name, ray.get(named.get_count.remote()))


if __name__ == "__main__":
    ray.init(num_cpus=2)
    main()
    ray.shutdown()
