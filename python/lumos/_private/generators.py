"""num_returns="dynamic": the task's single return value is a
DynamicObjectRefGenerator over refs to the values the task yielded (each its
own object, owned by the caller)."""


class DynamicObjectRefGenerator:
    """Iterable of ObjectRefs; picklable, so it can be passed to other tasks."""

    def __init__(self, refs):
        self._refs = list(refs)

    def __iter__(self):
        return iter(self._refs)

    def __len__(self):
        return len(self._refs)

    def __getitem__(self, i):
        return self._refs[i]

    def __repr__(self):
        return "DynamicObjectRefGenerator(%d refs)" % len(self._refs)
