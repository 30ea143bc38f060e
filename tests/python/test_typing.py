"""Types (docs/ARCHITECTURE.md): mypy with lumos.mypy_plugin reports the
wrong programs in tests/typing/bad exactly where their `# E:` marks say, and
the typed examples in tests/typing/examples run."""
import glob
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BAD = sorted(glob.glob(os.path.join(ROOT, "tests", "typing", "bad", "*.py")))
EXAMPLES = sorted(p for p in glob.glob(os.path.join(ROOT, "tests", "typing", "examples", "*.py"))
                  if not p.endswith("__init__.py"))
MARK = re.compile(r"\S\s+# E: (.+)$")   # code, then the mark
ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<message>.*)$")

pytest.importorskip("mypy")


def _expected(path):
    """{line: text} of the `# E: text` marks in a file."""
    marks = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = MARK.search(line)
            if m:
                marks[n] = m[1].strip()
    return marks


def _mypy(paths):
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file", os.path.join(ROOT, "mypy.ini"),
                          "--no-error-summary", *paths], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return out.returncode, out.stdout + out.stderr


@pytest.mark.parametrize("path", BAD, ids=os.path.basename)
def test_wrong_program_is_reported_where_marked(path):
    assert _expected(path), "%s has no # E: marks" % path
    code, output = _mypy([path])
    assert code == 1, output
    reported = {}
    for line in output.splitlines():
        m = ERROR.match(line)
        if m:
            reported.setdefault(int(m["line"]), []).append(m["message"])
    for n, text in _expected(path).items():
        assert any(text in msg for msg in reported.get(n, [])), \
            "line %d: expected an error containing %r; mypy said:\n%s" % (n, text, output)
    unexpected = sorted(set(reported) - set(_expected(path)))
    assert not unexpected, "errors on unmarked lines %s:\n%s" % (unexpected, output)


def test_marks_can_fail():
    """A program without errors fails the check above: mypy exits 0 on a
    typed example, so the expected errors would be missing."""
    code, output = _mypy([EXAMPLES[0]])
    assert code == 0, output


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_typed_example_runs(path):
    """The annotations change nothing at run time (seed_pipeline evaluates
    ObjectRef[int] in a signature when the module loads)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LUMOS_ADDRESS", "RAY_ADDRESS")}  # own cluster
    out = subprocess.run([sys.executable, path], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_user_project_strict_with_the_plugin_by_module_name(tmp_path):
    """What a user writes: `plugins = lumos.mypy_plugin` and `strict`, over a
    program outside the repository (lumos found as installed)."""
    program = os.path.join(ROOT, "tests", "typing", "examples", "seed_counter.py")
    (tmp_path / "app.py").write_text(open(program).read())
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\nplugins = lumos.mypy_plugin\n")
    out = subprocess.run([sys.executable, "-m", "mypy", "app.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
