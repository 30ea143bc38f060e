"""How the launcher runs the dashboard: `python <this file> ARGS` (not
`-m`), so that `import lumos` does not run lumos/__init__.py.

lumos/__init__.py loads the core worker (the _raylet extension, with its
C++ gRPC and protobuf) and the whole driver API: ~15 MB of resident memory
the dashboard never uses, a quarter of its 60 MB budget. Here the `lumos`
and `lumos.util` packages are registered with their directories but without
running their __init__ files; every submodule still imports normally (and a
module that does need the core worker still gets it, at its cost).
`python -m lumos.dashboard.server` works as well, with the full import.
"""
import os
import re
import sys
import types


def _light_packages():
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)  # this directory is not a top-level import root
    sys.path.insert(0, os.path.dirname(package_dir))
    with open(os.path.join(package_dir, "__init__.py")) as f:
        version = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M)
    for name, path in (("lumos", package_dir), ("lumos.util", os.path.join(package_dir, "util"))):
        module = types.ModuleType(name)
        module.__path__ = [path]
        module.__file__ = os.path.join(path, "__init__.py")
        sys.modules[name] = module
    sys.modules["lumos"].__version__ = version.group(1) if version else "0.0.0"
    sys.modules["lumos"].util = sys.modules["lumos.util"]


if __name__ == "__main__":
    _light_packages()
    from lumos.dashboard import server
    server.main(sys.argv[1:])
