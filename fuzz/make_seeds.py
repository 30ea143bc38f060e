#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the C++ harnesses into fuzz/corpus/<harness>/
(seed-*). The fuzzer grows the corpus from them; `make fuzz FUZZ_MERGE=1`
folds what it found back in. Messages are written in protobuf text format
and encoded with protoc, so the seeds follow the .proto files.
Run from anywhere: python3 fuzz/make_seeds.py"""
import os
import struct
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTOS = os.path.join(ROOT, "protos")


def pb(msg, text, proto):
    return subprocess.run(["protoc", "--encode=lumos.rpc." + msg, "-I", PROTOS, os.path.join(PROTOS, proto)],
                          input=text.encode(), stdout=subprocess.PIPE, check=True).stdout


def frame(kind, method, rid, payload, flags=0):
    return struct.pack("<IHBBQ", len(payload), method, kind, flags, rid) + payload


def rec(sel, kind, payload):
    """A record of fastpath_driver.h: method selector, kind byte, length, payload."""
    return struct.pack("<BBH", sel, kind - 1, len(payload)) + payload


def write(harness, name, data):
    d = os.path.join(ROOT, "fuzz", "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def esc(b):
    return "".join("\\x%02x" % c for c in b)


OBJ = esc(b"o" * 20)
OBJ2 = esc(b"p" * 20)
WORKER = esc(b"w" * 16)
NODE = esc(b"n" * 16)  # the raylet harness's node id
REQ, REPLY, ONEWAY = 1, 2, 3


def frame_decoder():
    reg = pb("RegisterClientRequest", 'worker_id: "%s" is_driver: true pid: 7' % WORKER, "node_manager.proto")
    two = frame(REQ, 1, 1, reg) + frame(ONEWAY, 44, 0, b"")
    write("frame_decoder_fuzzer", "two-frames", bytes([0, 20]) + two)
    write("frame_decoder_fuzzer", "chunked", bytes([7, 20]) + two + frame(REPLY, 2, 9, b"x" * 40, flags=1))
    write("frame_decoder_fuzzer", "truncated", bytes([3, 20]) + frame(REQ, 8, 1, b"abcdef")[:-2])
    write("frame_decoder_fuzzer", "over-limit", bytes([0, 4]) + frame(REQ, 8, 1, b"x" * 17))
    write("frame_decoder_fuzzer", "bad-kind", bytes([0, 20]) + b"\x00" * 6 + b"\x09" + b"\x00" * 9)


def store():
    m = {n: i for i, n in enumerate(["CONNECT", "CREATE", "SEAL", "GET", "RELEASE", "DELETE", "ABORT",
                                      "CONTAINS", "STATS"])}
    p = "object_manager.proto"
    create = pb("StoreCreateRequest", 'object_id: "%s" data_size: 100 metadata_size: 8' % OBJ, p)
    big = pb("StoreCreateRequest", 'object_id: "%s" data_size: 60000 owner_id: "%s"' % (OBJ2, WORKER), p)
    one = pb("StoreSealRequest", 'object_id: "%s"' % OBJ, p)
    get = pb("StoreGetRequest", 'object_ids: "%s" object_ids: "%s"' % (OBJ, OBJ2), p)
    life = (rec(m["CREATE"], REQ, create) + rec(m["SEAL"], REQ, one) + rec(m["GET"], REQ, get) +
            rec(m["RELEASE"], ONEWAY, pb("StoreReleaseRequest", 'object_id: "%s"' % OBJ, p)) +
            rec(m["CONTAINS"], REQ, pb("StoreContainsRequest", 'object_id: "%s"' % OBJ, p)) +
            rec(m["STATS"], REQ, pb("StoreStatsRequest", "include_objects: true", p)) +
            rec(m["DELETE"], REQ, pb("StoreDeleteRequest", 'object_ids: "%s"' % OBJ, p)))
    write("store_handlers_fuzzer", "object-lifecycle", bytes([1]) + life)
    spill = (rec(m["CREATE"], REQ, create) + rec(m["SEAL"], REQ, one) + rec(m["RELEASE"], ONEWAY,
             pb("StoreReleaseRequest", 'object_id: "%s"' % OBJ, p)) + rec(m["CREATE"], REQ, big) +
             rec(m["SEAL"], REQ, pb("StoreSealRequest", 'object_id: "%s"' % OBJ2, p)) +
             rec(m["GET"], REQ, get) + rec(m["ABORT"], REQ, pb("StoreAbortRequest", 'object_id: "%s"' % OBJ2, p)))
    write("store_handlers_fuzzer", "spill", bytes([1 | 2 | (2 << 2)]) + spill)
    write("store_handlers_fuzzer", "no-connect", bytes([0]) + rec(m["STATS"], REQ, b""))
    connect = pb("StoreConnectRequest", 'client_id: "%s"' % WORKER, p)
    write("store_handlers_fuzzer", "connect-twice", bytes([0]) + rec(m["CONNECT"], REQ, connect) +
          rec(m["CONNECT"], REQ, connect) + rec(0xF5, REQ, b""))


def raylet():
    names = ["REGISTER_CLIENT", "REQUEST_WORKER_LEASE", "RETURN_WORKER", "NOTIFY_BLOCKED", "NOTIFY_UNBLOCKED",
             "DISCONNECT_CLIENT", "GET_NODE_STATS", "GET_WORKER_EXIT", "LIST_LOGS", "READ_LOG",
             "REQUEST_STACK_DUMP", "PREPARE_BUNDLES", "COMMIT_BUNDLES", "CANCEL_BUNDLES", "PULL_OBJECTS",
             "FREE_REMOTE_OBJECTS", "AUTHENTICATE", "LEASE_INFEASIBLE"]
    m = {n: i for i, n in enumerate(names)}
    p = "node_manager.proto"
    lease = pb("RequestWorkerLeaseRequest", 'resources { key: "CPU" value: 1 } task_name: "f" scheduling_class: 3', p)
    huge = pb("RequestWorkerLeaseRequest", 'resources { key: "CPU" value: 64 } task_name: "g"', p)
    actor = pb("RequestWorkerLeaseRequest",
               'resources { key: "custom" value: 1 } is_actor: true grant_or_reject: true '
               'scheduling_strategy { kind: NODE_AFFINITY node_id: "%s" soft: true }' % NODE, p)
    leases = (rec(m["GET_NODE_STATS"], REQ, b"") + rec(m["REQUEST_WORKER_LEASE"], REQ, lease) +
              rec(m["REQUEST_WORKER_LEASE"], REQ, huge) + rec(m["REQUEST_WORKER_LEASE"], REQ, actor) +
              rec(m["NOTIFY_BLOCKED"], ONEWAY, b"") + rec(m["NOTIFY_UNBLOCKED"], ONEWAY, b"") +
              rec(m["RETURN_WORKER"], REQ, pb("ReturnWorkerRequest", "lease_id: 1 disconnect_worker: true", p)) +
              rec(m["GET_WORKER_EXIT"], REQ, pb("GetWorkerExitRequest", 'worker_id: "%s"' % WORKER, p)))
    write("raylet_handlers_fuzzer", "leases", bytes([1]) + leases)
    logs = (rec(m["LIST_LOGS"], REQ, b"") +
            rec(m["READ_LOG"], REQ, pb("ReadLogRequest", 'name: "worker-1.out" tail_lines: 1', p)) +
            rec(m["READ_LOG"], REQ, pb("ReadLogRequest", 'name: "../raylet.sock" offset: 3', p)) +
            rec(m["REQUEST_STACK_DUMP"], REQ, pb("StackDumpRequest", "pid: 1", p)))
    write("raylet_handlers_fuzzer", "logs-tcp", bytes([2]) + logs)
    write("raylet_handlers_fuzzer", "logs-registered", bytes([1]) + logs)
    bundles = pb("PrepareBundlesRequest", 'placement_group_id: "pg1" bundles { index: 0 unit_resources '
                 '{ key: "CPU" value: 1 } node_id: "%s" } bundles { index: 1 unit_resources '
                 '{ key: "custom" value: 1 } }' % NODE, p)
    pg_lease = pb("RequestWorkerLeaseRequest", 'resources { key: "CPU_group_0_pg1" value: 1 } '
                  'placement_resources { key: "CPU_group_pg1" value: 1 }', p)
    pgs = (rec(m["PREPARE_BUNDLES"], REQ, bundles) +
           rec(m["COMMIT_BUNDLES"], REQ, pb("CommitBundlesRequest", 'placement_group_id: "pg1" bundle_indices: 0 '
                                                                     'bundle_indices: 1', p)) +
           rec(m["REQUEST_WORKER_LEASE"], REQ, pg_lease) +
           rec(m["CANCEL_BUNDLES"], REQ, pb("CancelBundlesRequest", 'placement_group_id: "pg1" bundle_indices: 0', p)))
    write("raylet_handlers_fuzzer", "bundles", bytes([1]) + pgs)
    objs = (rec(m["PULL_OBJECTS"], REQ, pb("PullObjectsRequest", 'object_ids: "%s" node_ids: "%s" sizes: 10'
                                                                 % (OBJ, NODE), p)) +
            rec(m["FREE_REMOTE_OBJECTS"], ONEWAY, pb("FreeRemoteObjectsRequest", 'object_ids: "%s" node_ids: "%s"'
                                                                                % (OBJ, NODE), p)))
    write("raylet_handlers_fuzzer", "objects-remote-owner", bytes([1 | 2 | 4]) + objs)
    reg = pb("RegisterClientRequest", 'worker_id: "%s" is_driver: false pid: 1' % WORKER, p)
    write("raylet_handlers_fuzzer", "worker-registration", bytes([0]) + rec(m["REGISTER_CLIENT"], REQ, reg) +
          rec(m["GET_NODE_STATS"], REQ, b""))
    write("raylet_handlers_fuzzer", "unregistered", bytes([0]) + rec(m["GET_NODE_STATS"], REQ, b""))


def gcs():
    calls = ["RegisterNode", "UnregisterNode", "GetAllNodeInfo", "ReportResources", "DrainNode", "GetNextJobId",
             "AddJob", "MarkJobFinished", "GetAllJobInfo", "KVGet", "KVPut", "KVDel", "KVExists", "KVKeys",
             "CheckAlive", "RegisterActor", "GetActorInfo", "GetNamedActorInfo", "ListNamedActors",
             "GetAllActorInfo", "KillActor", "SubscribeActor", "ReportWorkerFailure", "CreatePlacementGroup",
             "RemovePlacementGroup", "GetPlacementGroup", "GetAllPlacementGroup", "WaitPlacementGroupUntilReady",
             "AddTaskEvents", "GetTaskEvents", "Tick"]
    m = {n: i for i, n in enumerate(calls)}
    p = "gcs_service.proto"

    def r(name, msg="", text=""):
        payload = pb(name + "Request", text, p) if msg is None or text else b""
        return struct.pack("<BH", m[name], len(payload)) + payload

    node = ('node { node_id: "%s" node_ip: "127.0.0.1" raylet_endpoint: "unix:/nonexistent/raylet.sock" '
            'total_resources { key: "CPU" value: 4 } available_resources { key: "CPU" value: 4 } '
            'raylet_pid: 1 }' % NODE)
    job = esc(b"\x01\x00\x00\x00")
    actor = esc(b"a" * 16)
    task = ('creation_task { task_id: "%s" job_id: "%s" name: "A" num_returns: 1 '
            'required_resources { key: "CPU" value: 1 } actor_creation { actor_id: "%s" max_restarts: 1 '
            'name: "named" ray_namespace: "ns" class_name: "A" } }' % (esc(b"t" * 16), job, actor))
    nodes = (r("RegisterNode", None, node) +
             r("ReportResources", None, 'node_id: "%s" available_resources { key: "CPU" value: 2 } '
                                        'infeasible_demands: "{CPU: 8}"' % NODE) +
             r("GetAllNodeInfo") + r("DrainNode", None, 'node_id: "%s" reason: "x" deadline_remaining_s: 1' % NODE) +
             r("Tick") + r("UnregisterNode", None, 'node_id: "%s" reason: "bye"' % NODE))
    write("gcs_requests_fuzzer", "nodes", bytes([0]) + nodes)
    jobs_kv = (r("GetNextJobId") + r("AddJob", None, 'job { job_id: "%s" driver_pid: 5 namespace: "ns" }' % job) +
               r("GetAllJobInfo") + r("KVPut", None, 'namespace: "ns" key: "k" value: "v" overwrite: true') +
               r("KVGet", None, 'namespace: "ns" key: "k"') + r("KVExists", None, 'namespace: "ns" key: "k"') +
               r("KVKeys", None, 'namespace: "ns" prefix: ""') +
               r("KVDel", None, 'namespace: "ns" key: "k" del_by_prefix: true') +
               r("MarkJobFinished", None, 'job_id: "%s"' % job) + r("CheckAlive"))
    write("gcs_requests_fuzzer", "jobs-kv", bytes([0]) + jobs_kv)
    actors = (r("RegisterNode", None, node) + r("RegisterActor", None, task) +
              r("GetActorInfo", None, 'actor_id: "%s"' % actor) +
              r("GetNamedActorInfo", None, 'name: "named" ray_namespace: "ns"') +
              r("ListNamedActors", None, 'ray_namespace: "ns"') +
              r("GetAllActorInfo", None, 'filters { key: "state" predicate: "=" value: "ALIVE" } limit: 10') +
              r("SubscribeActor", None, 'actor_id: "%s" subscriber { endpoint: "unix:/nonexistent/w.sock" }' % actor) +
              r("ReportWorkerFailure", None, 'worker_id: "%s" node_id: "%s" description: "gone"' % (WORKER, NODE)) +
              r("KillActor", None, 'actor_id: "%s" no_restart: true reason: "k"' % actor) + r("Tick"))
    write("gcs_requests_fuzzer", "actors", bytes([0]) + actors)
    pgs = (r("RegisterNode", None, node) +
           r("CreatePlacementGroup", None, 'placement_group { placement_group_id: "pg1" name: "g" strategy: SPREAD '
                                           'bundles { index: 0 unit_resources { key: "CPU" value: 1 } } '
                                           'creator_job_id: "%s" }' % job) +
           r("GetPlacementGroup", None, 'placement_group_id: "pg1"') + r("GetAllPlacementGroup") +
           r("WaitPlacementGroupUntilReady", None, 'placement_group_id: "pg1" timeout_ms: 5') +
           r("RemovePlacementGroup", None, 'placement_group_id: "pg1" more_placement_group_ids: "pg2"'))
    write("gcs_requests_fuzzer", "placement-groups", bytes([0]) + pgs)
    events = (r("AddTaskEvents", None, 'events { task_id: "%s" attempt_number: 0 info { name: "f" job_id: "%s" } '
                                       'state_times_us: 5 state_times_us: 9 } num_dropped_at_source: 2'
                % (esc(b"t" * 16), job)) +
              r("GetTaskEvents", None, 'filters { key: "name" predicate: "=" value: "f" } limit: 5 newest_first: true'))
    write("gcs_requests_fuzzer", "task-events", bytes([0]) + events)
    write("gcs_requests_fuzzer", "no-token", bytes([1]) + r("KVKeys", None, 'namespace: "ns"'))
    write("gcs_requests_fuzzer", "wrong-version", bytes([2]) + r("GetAllNodeInfo"))


if __name__ == "__main__":
    frame_decoder()
    store()
    raylet()
    gcs()
