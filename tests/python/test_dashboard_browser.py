"""The dashboard in a real browser: headless Chromium (Debian's `chromium`)
driven by Playwright. Every page loads with data from a live cluster, the
tasks page updates while tasks run, a failed task's traceback is shown,
and each page's screenshot is written to the test's tmp dir.

Skipped (with the reason) only when playwright or chromium is missing;
scripts/install_deps.sh installs both.
"""
import json
import os
import re
import shutil
import threading
import urllib.request

import pytest

import lumos
from lumos._private.node import free_port

from conftest import module_cluster, wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install playwright; "
                                                       "scripts/install_deps.sh does)"),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; "
                                                "scripts/install_deps.sh does)"),
]


@lumos.remote
def browser_square(x):
    return x * x


@lumos.remote
def browser_fails():
    raise ValueError("browser-boom")


@lumos.remote
def browser_slow(seconds):
    import time
    time.sleep(seconds)
    return seconds


@lumos.remote
class BrowserActor:
    def ping(self):
        print("browser actor says hi")
        return "pong"


def _failed_tasks(base, token):
    req = urllib.request.Request(base + "/api/tasks?state=FAILED", headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["total"]


@pytest.fixture(scope="module")
def site():
    gen = module_cluster(num_cpus=2, include_dashboard=True, dashboard_port=free_port())
    ctx = next(gen)
    with open(os.path.join(ctx.session_dir, "auth_token")) as f:
        token = f.read().strip()
    lumos.get([browser_square.remote(i) for i in range(8)])
    with pytest.raises(ValueError):
        lumos.get(browser_fails.remote())
    actor = BrowserActor.remote()
    assert lumos.get(actor.ping.remote()) == "pong"
    pg = lumos.util.placement_group([{"CPU": 0.1}], name="browser_pg")
    lumos.get(pg.ready(), timeout=30)
    ref = lumos.put(b"y" * 3_000_000)
    wait_until(lambda: _failed_tasks("http://" + ctx.dashboard_url, token) >= 1, timeout=30)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield {"base": "http://" + ctx.dashboard_url, "token": token, "browser": browser, "actor": actor,
                   "ref": ref, "pg": pg}
        finally:
            browser.close()
    next(gen, None)


@pytest.fixture
def page(site, tmp_path):
    """A signed-in page (?token= once, then the cookie); console errors fail the test."""
    context = site["browser"].new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(20000)
    pg.goto(site["base"] + "/?token=" + site["token"])
    assert "token=" not in pg.url  # redirected away from the token
    pg.shots = tmp_path
    yield pg
    context.close()
    assert not errors, errors


def _shot(page, name):
    path = os.path.join(str(page.shots), name + ".png")
    page.screenshot(path=path, full_page=True)
    assert os.path.getsize(path) > 1000


def test_login_form(site, tmp_path):
    context = site["browser"].new_context()
    pg = context.new_page()
    response = pg.goto(site["base"] + "/actors")
    assert response.status == 401
    pg.fill("input[name=token]", "not-the-token")
    pg.click("button[type=submit]")
    expect(pg.locator("p.err")).to_contain_text("not this cluster")
    pg.fill("input[name=token]", site["token"])
    pg.click("button[type=submit]")
    expect(pg.locator("h1")).to_have_text("Actors")
    pg.screenshot(path=str(tmp_path / "after_login.png"))
    context.close()


def test_every_page_loads_with_data(site, page):
    expect(page.locator("#content")).to_contain_text("CPU used / total")
    expect(page.locator("#content")).to_contain_text("127.0.0.1")
    _shot(page, "overview")
    checks = [
        ("/jobs", "Drivers"), ("/actors", "BrowserActor"), ("/tasks", "browser_square"),
        ("/placement_groups", "browser_pg"), ("/objects", site["ref"].hex()), ("/logs", "worker-"),
    ]
    for path, text in checks:
        page.goto(site["base"] + path)
        expect(page.locator("#content")).to_contain_text(text)
        _shot(page, path.strip("/"))
    page.goto(site["base"] + "/task_stream?window=600")
    expect(page.locator("#stream-info")).to_have_attribute("data-spans", re.compile(r"^[1-9]"))
    _shot(page, "task_stream")
    page.goto(site["base"] + "/charts")
    expect(page.locator(".chart svg polyline").first).to_be_attached(timeout=30000)
    expect(page.locator("#content")).to_contain_text("cpu_total")
    _shot(page, "charts")


def test_actor_logs_page(site, page):
    page.goto(site["base"] + "/logs?actor_id=" + site["actor"]._actor_id.hex())
    expect(page.locator("#log")).to_contain_text("browser actor says hi")
    _shot(page, "actor_log")


def test_tasks_page_updates_while_tasks_run(site, page):
    page.goto(site["base"] + "/tasks")
    expect(page.locator("#content")).to_contain_text("browser_square")
    refs = []
    starter = threading.Thread(target=lambda: refs.extend(browser_slow.remote(4) for _ in range(2)))
    starter.start()
    starter.join()
    # No reload: the page refreshes itself on the server's ticks.
    expect(page.locator("#content table").last).to_contain_text("RUNNING", timeout=30000)
    expect(page.locator("#content")).to_contain_text("browser_slow")
    _shot(page, "tasks_running")
    assert lumos.get(refs, timeout=60) == [4, 4]
    # ... and shows them finished, still without a reload.
    rows = page.locator("#content table").last.locator("tbody tr")
    for i in (0, 1):
        expect(rows.nth(i)).to_contain_text("browser_slow")
        expect(rows.nth(i)).to_contain_text("FINISHED", timeout=30000)
    _shot(page, "tasks_finished")


def test_failed_task_traceback_is_shown(site, page):
    page.goto(site["base"] + "/tasks?state=FAILED")
    link = page.locator("#content table a[href^='/tasks/']").first
    expect(link).to_be_visible()
    link.click()
    tb = page.locator("pre.traceback")
    expect(tb).to_contain_text("Traceback")
    expect(tb).to_contain_text("ValueError: browser-boom")
    _shot(page, "failed_task")
