"""lumos.util.multiprocessing: the stdlib's multiprocessing.Pool on lumos
actors (Ray's ray.util.multiprocessing). `from lumos.util.multiprocessing
import Pool` replaces `from multiprocessing import Pool`."""
from multiprocessing import TimeoutError  # noqa: F401  (what AsyncResult.get raises, as in the stdlib)

from lumos.util.multiprocessing.pool import AsyncResult, IMapIterator, Pool  # noqa: F401

__all__ = ["Pool", "AsyncResult", "IMapIterator", "TimeoutError"]
