"""seeds/002 and 003: a map/reduce pipeline whose stages pass refs on; the
signature below evaluates ObjectRef[...] at run time (no postponed
annotations), so it also shows ObjectRef[T] is subscriptable."""
import lumos as ray
from lumos import ObjectRef


@ray.remote
def load(part: int) -> list[int]:
    return list(range(part * 10, part * 10 + 10))


@ray.remote
def total(values: list[int]) -> int:
    return sum(values)


@ray.remote(scheduling_strategy="SPREAD")
def combine(*parts: int) -> int:
    return sum(parts)


def pipeline(n_parts: int) -> ObjectRef[int]:
    sums: list[ObjectRef[int]] = [total.remote(load.remote(p)) for p in range(n_parts)]
    return combine.remote(*sums)


if __name__ == "__main__":
    ray.init(num_cpus=2)
    assert ray.get(pipeline(3)) == sum(range(30))
    ray.shutdown()
