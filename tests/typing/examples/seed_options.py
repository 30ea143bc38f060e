"""seeds/003: resources in @remote(...) and .options(...), put, wait, and
get of a dict of refs."""
import lumos as ray
from lumos import ObjectRef


@ray.remote(num_cpus=1)
def my_function() -> int:
    return 1


@ray.remote
def scale(x: int, factor: float = 2.0) -> float:
    return x * factor


@ray.remote
async def fetch(key: str) -> bytes:
    return key.encode()


def main() -> None:
    value: int = ray.get(my_function.options(num_cpus=1).remote())
    base: ObjectRef[int] = ray.put(21)
    doubled: ObjectRef[float] = scale.remote(base)            # a ref where an int is taken
    ready, pending = ray.wait([doubled, scale.options(name="x").remote(1, factor=0.5)],
                              num_returns=2, timeout=30)
    by_name: dict[str, float] = ray.get({"a": doubled, "b": scale.remote(value)})
    raw: bytes = ray.get(fetch.remote("k"))
    assert by_name == {"a": 42.0, "b": 2.0} and len(ready) == 2 and not pending and raw == b"k"


if __name__ == "__main__":
    ray.init(num_cpus=2)
    main()
    ray.shutdown()
