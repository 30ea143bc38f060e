# Typed lumos programs (the seeds' examples with annotations), checked by
# `make typecheck` with mypy.ini's strict flags. test_typing.py runs some.
