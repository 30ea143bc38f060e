"""A generator task streams: .remote() gives an ObjectRefGenerator of refs
(lumos.mypy_plugin maps a Generator return type to it)."""
from collections.abc import Generator

import lumos as ray
from lumos import ObjectRefGenerator


@ray.remote
def countdown(n: int) -> Generator[int, None, None]:
    for i in range(n, 0, -1):
        yield i


def main() -> None:
    stream: ObjectRefGenerator = countdown.remote(3)
    values = [ray.get(ref) for ref in stream]
    assert values == [3, 2, 1], values
    ready, _ = ray.wait([countdown.remote(1)], timeout=30)
    assert len(ready) == 1


if __name__ == "__main__":
    ray.init(num_cpus=2)
    main()
    ray.shutdown()
