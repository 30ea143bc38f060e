"""seeds/001: Monte Carlo pi over four tasks; ray.get of a list is a list."""
import random

import lumos as ray
from lumos import ObjectRef


@ray.remote
def compute_pi(n_samples: int) -> float:
    inside = 0
    for _ in range(n_samples):
        x, y = random.random(), random.random()
        if x * x + y * y <= 1:
            inside += 1
    return 4.0 * inside / n_samples


@ray.remote
def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def estimate(n_tasks: int, n_samples: int) -> float:
    futures: list[ObjectRef[float]] = [compute_pi.remote(n_samples) for _ in range(n_tasks)]
    results: list[float] = ray.get(futures)
    return ray.get(mean.remote(results))


if __name__ == "__main__":
    ray.init(num_cpus=2)
    pi = estimate(4, 10_000)
    assert 2.5 < pi < 3.8, pi
    print("pi ~", pi)
    ray.shutdown()
