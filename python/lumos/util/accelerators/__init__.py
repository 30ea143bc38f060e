"""lumos.util.accelerators: accelerator type constants (like ray.util.accelerators)."""
from lumos.util.accelerators.accelerators import *  # noqa: F401,F403
from lumos.util.accelerators import accelerators as _names

__all__ = [n for n in dir(_names) if n.isupper() or n.startswith(("NVIDIA_", "AMD_", "INTEL_", "GOOGLE_", "AWS_",
                                                                    "HUAWEI_"))]
