"""The dashboard's HTML pages and their static files.

Each page is a server-rendered shell (navigation, headings, the containers
its script fills) plus one small script of its own under static/, next to
common.js; scripts read the JSON APIs and refresh on the /api/events ticks.
No build step and nothing fetched from elsewhere (the CSP allows 'self'
only), so the dashboard works on a cluster with no internet.
"""
import html
import os

from lumos.dashboard.routing import HttpError, Response

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml"}

# (path, script, nav label, title); nav label None: not in the navigation.
PAGES = [
    ("/", "overview", "Overview", "Cluster overview"),
    ("/jobs", "jobs", "Jobs", "Jobs"),
    ("/actors", "actors", "Actors", "Actors"),
    ("/tasks", "tasks", "Tasks", "Tasks"),
    ("/tasks/{task_id}", "task", None, "Task"),
    ("/task_stream", "stream", "Task stream", "Task stream"),
    ("/placement_groups", "placement_groups", "Placement groups", "Placement groups"),
    ("/objects", "objects", "Objects & memory", "Objects and memory"),
    ("/logs", "logs", "Logs", "Logs"),
    ("/charts", "charts", "Metrics", "Metrics"),
]


def render(script, title, params=None):
    """The HTML of one page."""
    nav = "".join('<a href="%s"%s>%s</a>' % (path, ' class="here"' if s == script else "", html.escape(label))
                  for path, s, label, _ in PAGES if label)
    data = "".join(' data-%s="%s"' % (k.replace("_", "-"), html.escape(v, quote=True))
                   for k, v in (params or {}).items())
    return """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>%(title)s · lumos</title><link rel="stylesheet" href="/static/dashboard.css"></head>
<body><header><span class="brand">lumos</span><nav>%(nav)s</nav><span id="live" title="live updates">●</span></header>
<main id="app" data-page="%(script)s"%(data)s><h1>%(title)s</h1><div id="content"><p class="muted">Loading…</p></div></main>
<script src="/static/common.js"></script><script src="/static/%(script)s.js"></script>
</body></html>
""" % {"title": html.escape(title), "nav": nav, "script": script, "data": data}


def _page(script, title):
    def handler(request, params):
        return Response(200, render(script, title, params), "text/html; charset=utf-8")
    return handler


def _static(request, params):
    name = params["name"]
    ext = os.path.splitext(name)[1]
    # One flat directory of known file types: no path can leave it.
    if "/" in name or name.startswith(".") or ext not in _TYPES:
        raise HttpError(404, "no static file %s" % name)
    try:
        with open(os.path.join(STATIC_DIR, name), "rb") as f:
            body = f.read()
    except OSError:
        raise HttpError(404, "no static file %s" % name) from None
    return Response(200, body, _TYPES[ext])


def register(router, ctx):
    for path, script, _, title in PAGES:
        router.add("GET", path, _page(script, title))
    router.add("GET", "/static/{name}", _static)
