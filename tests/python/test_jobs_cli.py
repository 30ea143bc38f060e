"""`lumos job ...` end to end against a head started by `lumos start`:
every command, every state, and the bad inputs of issue 14."""
import os
import sys
import time

import pytest

from jobs_cluster import JobsHead, free_port, wait_status

pytestmark = pytest.mark.timeout(300)

PY = sys.executable


@pytest.fixture(scope="module")
def head():
    h = JobsHead(num_cpus=2)
    yield h
    h.stop()


def _write(d, name, text):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def test_submit_streams_logs_and_succeeds_with_working_dir(head):
    wd = os.path.join(head.tmp, "wd_ok")
    _write(wd, "helper.py", "def answer():\n    return 42\n")
    _write(wd, "main.py", "import os, lumos\nlumos.init()\n"
                          "print('address set:', bool(os.environ.get('LUMOS_ADDRESS')))\n"
                          "@lumos.remote\ndef f():\n    import helper\n    return helper.answer()\n"
                          "print('task says', lumos.get(f.remote()))\n")
    r = head.cli("submit", "--working-dir", wd, "--", PY, "main.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "submitted successfully" in r.stdout
    assert "address set: True" in r.stdout
    assert "task says 42" in r.stdout  # the working_dir reaches the job's tasks too
    assert "succeeded" in r.stdout


def test_submit_of_a_failing_job_exits_1_with_the_reason(head):
    r = head.cli("submit", "--", PY, "-c", "print('about to fail'); raise SystemExit(3)")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "about to fail" in r.stdout
    assert "failed" in r.stdout and "exit code 3" in r.stdout


def test_no_wait_status_logs_stop_delete_list(head):
    r = head.cli("submit", "--no-wait", "--submission-id", "cli_sleeper", "--", PY, "-c",
                 "import time; print('started', flush=True); time.sleep(300)")
    assert r.returncode == 0, r.stderr
    assert "cli_sleeper" in r.stdout and "Tailing logs" not in r.stdout
    client = head.client()
    wait_status(client, "cli_sleeper", {"RUNNING"})
    r = head.cli("status", "cli_sleeper")
    assert r.returncode == 0 and "RUNNING" in r.stdout, r.stdout + r.stderr
    # --address before or after the id
    r = head.cli("status", "--address", head.url, "cli_sleeper")
    assert r.returncode == 0 and "RUNNING" in r.stdout
    r = head.cli("status", "cli_sleeper", "--address", head.url)
    assert r.returncode == 0 and "RUNNING" in r.stdout
    r = head.cli("status", "cli_sleeper", "--address", head.gcs_address)  # a local cluster's GCS address
    assert r.returncode == 0 and "RUNNING" in r.stdout, r.stderr
    deadline = time.monotonic() + 30
    while "started" not in head.cli("logs", "cli_sleeper").stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "started" in head.cli("logs", "cli_sleeper").stdout
    r = head.cli("list")
    assert r.returncode == 0 and "cli_sleeper" in r.stdout
    r = head.cli("delete", "cli_sleeper")
    assert r.returncode == 1 and "non-terminal" in r.stderr  # stop it first
    r = head.cli("stop", "cli_sleeper")
    assert r.returncode == 0, r.stderr
    assert "was stopped" in r.stdout
    # stop returned once the job had stopped
    assert client.get_job_status("cli_sleeper").value == "STOPPED"
    r = head.cli("logs", "--follow", "cli_sleeper", timeout=30)  # ends: the job is over
    assert r.returncode == 0 and "started" in r.stdout
    r = head.cli("delete", "cli_sleeper")
    assert r.returncode == 0 and "deleted successfully" in r.stdout
    r = head.cli("status", "cli_sleeper")
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_logs_follow_streams_until_the_job_ends(head):
    r = head.cli("submit", "--no-wait", "--", PY, "-c",
                 "import time\nfor i in range(3):\n    print('tick', i, flush=True); time.sleep(0.3)")
    sid = [line.split("'")[1] for line in r.stdout.splitlines() if "submitted successfully" in line][0]
    r = head.cli("logs", "-f", sid, timeout=60)
    assert r.returncode == 0
    assert "tick 0" in r.stdout and "tick 2" in r.stdout
    assert head.client().get_job_status(sid).value == "SUCCEEDED"


def test_unknown_job_id_is_a_clear_error_for_every_command(head):
    for cmd in ("status", "logs", "stop", "delete"):
        r = head.cli(cmd, "no_such_job")
        assert r.returncode == 1, (cmd, r.stdout)
        assert "Job no_such_job does not exist" in r.stderr, (cmd, r.stderr)


def test_wrong_token_is_a_clear_401(head):
    env = dict(head.env, LUMOS_AUTH_TOKEN="not-the-token")
    r = head.cli("list", env=env)
    assert r.returncode == 1
    assert "401" in r.stderr and "LUMOS_AUTH_TOKEN" in r.stderr


def test_unreachable_address_fails_within_10s_naming_it(head):
    address = "http://127.0.0.1:%d" % free_port()
    start = time.monotonic()
    r = head.cli("status", "--address", address, "x", timeout=30)
    assert time.monotonic() - start < 10
    assert r.returncode == 1 and address in r.stderr and "Failed to connect" in r.stderr


def test_entrypoint_that_cannot_start_fails_the_job(head):
    r = head.cli("submit", "--", "lumos_no_such_command_zz")
    assert r.returncode == 1
    assert "FAILED" in r.stdout and "exit code 127" in r.stdout and "not found" in r.stdout


def test_duplicate_submission_id_is_refused(head):
    assert head.cli("submit", "--submission-id", "cli_dup", "--", "true").returncode == 0
    r = head.cli("submit", "--submission-id", "cli_dup", "--", "true")
    assert r.returncode == 1 and "already exists" in r.stderr


def test_stopping_a_pending_job_really_stops_it(head, tmp_path):
    """ray#58353: the job waits for a resource no node has; once stopped it
    never starts, even when the resource would appear."""
    marker = str(tmp_path / "ran")
    r = head.cli("submit", "--no-wait", "--submission-id", "cli_pending", "--entrypoint-resources",
                 '{"lumos_nowhere": 1}', "--", "touch", marker)
    assert r.returncode == 0, r.stderr
    client = head.client()
    time.sleep(1.0)
    assert client.get_job_status("cli_pending").value == "PENDING"
    r = head.cli("stop", "cli_pending")
    assert r.returncode == 0 and "was stopped" in r.stdout, r.stdout + r.stderr
    assert client.get_job_status("cli_pending").value == "STOPPED"
    time.sleep(0.5)
    assert not os.path.exists(marker)


def test_entrypoint_resources_run_the_entrypoint_in_an_actor(head):
    r = head.cli("submit", "--entrypoint-num-cpus", "1", "--", PY, "-c",
                 "import lumos; lumos.init(); print('inside', lumos.get(lumos.remote(lambda: 7).remote()))")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "inside 7" in r.stdout
    sid = [line.split("'")[1] for line in r.stdout.splitlines() if "submitted successfully" in line][0]
    info = head.client().get_job_info(sid)
    assert info.status.value == "SUCCEEDED" and info.driver_node_id and info.entrypoint_num_cpus == 1


def test_failed_pip_setup_fails_the_job_with_pips_error(head):
    """ray#56102: not left PENDING. --no-index keeps pip off the network."""
    env_json = '{"pip": {"packages": ["lumos-no-such-package-zz"], "pip_install_options": ["--no-index"]}}'
    r = head.cli("submit", "--runtime-env-json", env_json, "--", "true", timeout=180)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED" in r.stdout and "runtime_env setup failed" in r.stdout
    assert "lumos-no-such-package-zz" in r.stdout and "No matching distribution" in r.stdout


def test_working_dir_over_the_cap_names_the_biggest_files(head):
    wd = os.path.join(head.tmp, "wd_big")
    os.makedirs(wd)
    for name, size in (("huge.bin", 6000), ("big.bin", 4000), ("small.py", 10)):
        with open(os.path.join(wd, name), "wb") as f:
            f.write(b"x" * size)
    env = dict(head.env, LUMOS_RUNTIME_ENV_MAX_BYTES="5000")
    r = head.cli("submit", "--working-dir", wd, "--", "true", env=env)
    assert r.returncode == 1
    assert "huge.bin" in r.stderr and "big.bin" in r.stderr and "excludes" in r.stderr
    r = head.cli("submit", "--runtime-env-json", '{"excludes": ["*.bin"]}', "--working-dir", wd, "--", "ls", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "small.py" in r.stdout and "huge.bin" not in r.stdout.split("Tailing logs")[1]


def test_bad_input_to_submit(head):
    r = head.cli("submit", "--runtime-env-json", "{not json", "--", "true")
    assert r.returncode == 1 and "--runtime-env-json" in r.stderr
    r = head.cli("submit", "--runtime-env-json", '{"conda": "env"}', "--", "true")
    assert r.returncode == 1 and "conda" in r.stderr
    r = head.cli("submit")
    assert r.returncode == 1 and "no entrypoint" in r.stderr
    r = head.cli("submit", "--submission-id", "../etc", "--", "true")
    assert r.returncode == 1 and "submission_id" in r.stderr


def test_runtime_env_file_and_metadata(head):
    path = os.path.join(head.tmp, "env.yaml")
    with open(path, "w") as f:
        f.write("env_vars:\n  FROM_YAML: hello\n")
    r = head.cli("submit", "--runtime-env", path, "--metadata-json", '{"team": "x"}', "--submission-id",
                 "cli_yaml", "--", "sh", "-c", "echo var=$FROM_YAML")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "var=hello" in r.stdout
    info = head.client().get_job_info("cli_yaml")
    assert info.metadata == {"team": "x"} and info.runtime_env == {"env_vars": {"FROM_YAML": "hello"}}
