"""JSON APIs of the dashboard's pages (/api/...) and the live-update stream.

    GET /api/overview                 nodes, resources used/total, store, counts
    GET /api/nodes                    every node (store use, workers)
    GET /api/cluster_jobs             jobs (drivers) from the GCS; submission
                                      jobs are /api/jobs/ (lumos.job_submission)
    GET /api/actors[?state=&class_name=&job_id=&node_id=&name=&limit=200]
    GET /api/actors/{actor_id}        one actor, its worker's log files
    GET /api/tasks[?state=&func=&job_id=&actor_id=&q=&limit=]   newest first
    GET /api/tasks/summary            per function: attempts in each state
    GET /api/tasks/{task_id}          every attempt, the whole error text
    GET /api/placement_groups
    GET /api/objects[?limit=]         references held by every process + store use
    GET /api/task_stream[?window=S]   spans of task code per worker (last S s)
    GET /api/events                   SSE: a tick with the overview counts every
                                      TICK_S; pages refetch what they show
"""
import json
import time

from lumos.dashboard import shared
from lumos.dashboard.routing import HttpError, Response, StreamResponse

TICK_S = 1.0  # at most one update a second per page
MAX_LIMIT = 10000
ACTOR_FILTERS = ("state", "class_name", "job_id", "node_id", "name")  # the GCS filters on these


def _int(request, name, default, lo=0, hi=MAX_LIMIT):
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HttpError(400, "%s must be an integer, got %r" % (name, raw)) from None
    if not lo <= value <= hi:
        raise HttpError(400, "%s must be within %d..%d, got %d" % (name, lo, hi, value))
    return value


def _matching(rows, request, keys):
    for key in keys:
        want = request.query.get(key)
        if want:
            rows = [r for r in rows if str(r.get(key) or "").lower() == want.lower()]
    return rows


def _key(request):
    """The encoding cache's slot for a request (its path and query)."""
    return (request.path,) + tuple(sorted(request.query.items()))


def register(router, ctx):
    data = shared.cluster(ctx)

    # Views are snapshots; data.encoded() serves the JSON of one snapshot to
    # every poll until it is refreshed.
    def overview(request, params):
        return Response.json_bytes(data.encoded(_key(request), data.overview()))

    def nodes(request, params):
        return Response.json_bytes(data.encoded(_key(request), data.nodes(), shape=lambda n: {"nodes": n}))

    def cluster_jobs(request, params):
        jobs = data.jobs()
        return Response.json({"jobs": jobs[::-1], "total": len(jobs)})

    def actors(request, params):
        filters = [(k, request.query[k]) for k in ACTOR_FILTERS if request.query.get(k)]
        limit = _int(request, "limit", 200)  # a page's worth, as /api/tasks; the total is exact
        def shape(found, counts):
            return {"actors": found["rows"], "total": found["total"],
                    "truncated": found["total"] > len(found["rows"]), "state_counts": counts}
        return Response.json_bytes(data.encoded(_key(request), data.actors(filters, limit),
                                                data.actor_state_counts(), shape=shape))

    def actor(request, params):
        a = data.actor(params["actor_id"])
        if a is None:
            raise HttpError(404, "no actor with id %s in this cluster" % params["actor_id"])
        return Response.json({"actor": a, "tasks": data.tasks(actor_id=a["actor_id"], limit=50)})

    def tasks(request, params):
        q = request.query
        try:
            found = data.tasks(state=q.get("state"), func=q.get("func"), job_id=q.get("job_id"),
                               actor_id=q.get("actor_id"), search=q.get("q"), limit=_int(request, "limit", 200))
            return Response.json_bytes(data.encoded(_key(request), found))
        except LookupError as e:  # the GCS refused a filter value
            raise HttpError(400, str(e)) from None

    def task_summary(request, params):
        return Response.json(dict(data.task_summary(), state_counts=data.task_state_counts()))

    def task(request, params):
        attempts = data.task(params["task_id"])
        if not attempts:
            raise HttpError(404, "no task with id %s is kept by the GCS (it keeps the last 100,000 attempts)"
                            % params["task_id"])
        return Response.json({"task_id": params["task_id"], "attempts": attempts})

    def placement_groups(request, params):
        pgs = _matching(data.placement_groups(), request, ("state", "name"))
        return Response.json({"placement_groups": pgs, "total": len(pgs)})

    def objects(request, params):
        limit = _int(request, "limit", 1000)
        return Response.json_bytes(data.encoded(_key(request), shared.objects(ctx, limit)))

    def task_stream(request, params):
        window = _int(request, "window", 120, lo=5, hi=3600)
        return Response.json_bytes(data.encoded(_key(request), data.task_stream(window)))

    def events(request, params):
        def ticks():
            yield b"retry: 2000\n\n"
            while True:
                o = data.overview()
                tick = {"time_ms": o["time_ms"], "tasks": o["tasks"], "actors": o["actors"],
                        "nodes": o["num_nodes_alive"]}
                yield ("event: tick\ndata: %s\n\n" % json.dumps(tick)).encode()
                time.sleep(TICK_S)
        return StreamResponse(ticks(), content_type="text/event-stream")

    router.add("GET", "/api/overview", overview)
    router.add("GET", "/api/nodes", nodes)
    router.add("GET", "/api/cluster_jobs", cluster_jobs)
    router.add("GET", "/api/actors", actors)
    router.add("GET", "/api/actors/{actor_id}", actor)
    router.add("GET", "/api/tasks/summary", task_summary)
    router.add("GET", "/api/tasks", tasks)
    router.add("GET", "/api/tasks/{task_id}", task)
    router.add("GET", "/api/placement_groups", placement_groups)
    router.add("GET", "/api/objects", objects)
    router.add("GET", "/api/task_stream", task_stream)
    router.add("GET", "/api/events", events)
