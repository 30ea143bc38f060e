"""Entrypoint resources place the entrypoint on the node that has them."""
import os
import shlex
import shutil
import sys

import pytest

import lumos
from conftest import short_tmpdir
from jobs_cluster import free_port, wait_status

pytestmark = pytest.mark.timeout(240)


def test_entrypoint_resources_pick_the_node_that_has_them(monkeypatch):
    from lumos.cluster_utils import Cluster
    from lumos.job_submission import JobSubmissionClient
    if lumos.is_initialized():
        lumos.shutdown()
    tmp = short_tmpdir()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "temp_dir": tmp, "include_dashboard": True,
                                                       "dashboard_port": free_port()})
    try:
        special = c.add_node(num_cpus=1, resources={"special": 1}, temp_dir=tmp)
        session = c.head_node.session_dir
        with open(os.path.join(session, "dashboard_url")) as f:
            url = f.read().strip()
        with open(os.path.join(session, "auth_token")) as f:
            monkeypatch.setenv("LUMOS_AUTH_TOKEN", f.read().strip())
        client = JobSubmissionClient(url, _temp_dir=tmp)
        code = "import lumos; lumos.init(); print('ok', lumos.get(lumos.remote(lambda: 5).remote()))"
        sid = client.submit_job(entrypoint="%s -c %s" % (sys.executable, shlex.quote(code)), entrypoint_resources={"special": 1})
        wait_status(client, sid, {"SUCCEEDED"}, timeout=120)
        info = client.get_job_info(sid)
        assert info.driver_node_id == special.node_id
        assert "ok 5" in client.get_job_logs(sid)
    finally:
        c.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
