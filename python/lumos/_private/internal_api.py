"""Memory tooling: what `lumos memory` prints (memory_summary) and the rows
behind it (memory_table).

Every core worker on the node answers GET_REFERENCE_TABLE with its reference
counter's view (owned objects with their local, task, contained and borrower
counts; borrowed refs); the node's object store adds sizes and where each
object is (shared memory or spilled). Tooling only: imports the protobuf stubs.
"""
import time

from lumos._private import worker as _worker

# A handle object of an actor (see CoreWorker::CreateActor) has return index 0.
_ACTOR_HANDLE_INDEX = b"\0\0\0\0"


def _reference_types(e):
    if e.object_id[16:] == _ACTOR_HANDLE_INDEX:
        return ["ACTOR_HANDLE"]
    kinds = []
    if e.local_refs > 0:
        kinds.append("LOCAL_REFERENCE" if e.owned else "BORROWED")
    if e.submitted_task_refs > 0:
        kinds.append("USED_BY_PENDING_TASK")
    if e.contained_in > 0:
        kinds.append("CAPTURED_IN_OBJECT")
    if e.pinned_forever:
        kinds.append("PINNED_OUT_OF_BAND")
    if not kinds and e.owned and e.borrowers > 0:
        kinds.append("BORROWED_ELSEWHERE")
    return kinds or ["UNREFERENCED"]


def memory_table():
    """(rows, store): one row per (process, object, reference type), and the
    object store's stats (capacity, used, spilled bytes, ...)."""
    from lumos._proto import core_worker_pb2

    cw = _worker.core_worker()
    tables = [core_worker_pb2.ReferenceTableReply.FromString(b) for b in cw.collect_reference_tables()]
    store = cw.store_stats(include_objects=True)
    in_store = {o["object_id"]: o for o in store.get("objects", [])}
    pid_of = {t.address.worker_id: t.pid for t in tables}
    rows = []
    for t in tables:
        holder = "driver" if t.is_driver else "worker"
        for e in t.entries:
            oid = e.object_id.hex()
            stored = in_store.get(oid)
            if stored is not None:
                size = stored["size"]
                location = "object store" if stored.get("in_memory", True) else "spilled"
            elif e.in_plasma:
                size, location = None, "object store (not on this node)"
            elif e.size:
                size, location = e.size, "owner memory"
            else:
                size, location = None, "-"
            owner_pid = t.pid if e.owned else pid_of.get(e.owner.worker_id)
            for kind in _reference_types(e):
                rows.append({
                    "object_id": oid, "size": size, "location": location, "reference_type": kind,
                    "pid": t.pid, "process": holder, "owner_pid": owner_pid, "owned": e.owned,
                    "borrowers": e.borrowers, "call_site": e.call_site or None,
                })
    return rows, store


def _fmt_bytes(n):
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    return str(n)


def memory_summary(stats_only=False, num_entries=None):
    """A printable report: the object store's usage and every reference held
    on this node (object, size, owner, holder, reference type, location, call
    site), largest first."""
    rows, store = memory_table()
    used, cap = store.get("used", 0), store.get("capacity", 0)
    lines = ["======== Object references status: %s ========" % time.strftime("%Y-%m-%d %H:%M:%S")]
    lines.append("Object store: %s used of %s (%.1f%%), %d objects; spilled: %s in %d objects (%s); "
                 "spilled/restored so far: %s/%s" % (
                     _fmt_bytes(used), _fmt_bytes(cap), 100.0 * used / cap if cap else 0.0,
                     store.get("num_objects", 0), _fmt_bytes(store.get("spilled_bytes", 0)),
                     store.get("num_spilled", 0), store.get("spill_directory") or "spilling disabled",
                     _fmt_bytes(store.get("bytes_spilled_total", 0)),
                     _fmt_bytes(store.get("bytes_restored_total", 0))))
    totals = {}
    for r in rows:
        n, b = totals.get(r["reference_type"], (0, 0))
        totals[r["reference_type"]] = (n + 1, b + (r["size"] or 0))
    lines.append("References by type: " + (", ".join(
        "%s %d (%s)" % (k, n, _fmt_bytes(b)) for k, (n, b) in sorted(totals.items())) or "none"))
    if stats_only:
        return "\n".join(lines) + "\n"
    rows.sort(key=lambda r: (-(r["size"] or 0), r["object_id"], r["pid"]))
    if num_entries is not None:
        rows = rows[:num_entries]
    header = "%-40s %10s %9s %-14s %-22s %-16s %s" % (
        "Object ID", "Size", "Owner pid", "Holder", "Reference type", "Location", "Call site")
    lines.append("")
    lines.append(header)
    lines.append("-" * len(header))
    for r in rows:
        lines.append("%-40s %10s %9s %-14s %-22s %-16s %s" % (
            r["object_id"], _fmt_bytes(r["size"]), r["owner_pid"] if r["owner_pid"] is not None else "?",
            "%s %d" % (r["process"], r["pid"]), r["reference_type"], r["location"],
            r["call_site"] or "(set LUMOS_RECORD_REF_CREATION_SITES=1)"))
    return "\n".join(lines) + "\n"
