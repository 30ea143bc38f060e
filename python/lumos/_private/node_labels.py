"""Node labels (`init(labels=...)`, `lumos start --labels`): string key/value
pairs that NodeLabelSchedulingStrategy matches. Kept in the GCS KV store (one
JSON entry per node id) by whoever starts the node; every node also carries
Ray's default label "ray.io/node_id"."""
import json

LABELS_NS = "node_labels"
RESERVED_PREFIX = "ray.io/"


def validate(labels):
    """The labels as a dict of str -> str, or a ValueError naming the bad entry."""
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise ValueError("labels must be a dict of str -> str, got %s" % type(labels).__name__)
    for k, v in labels.items():
        if not isinstance(k, str) or not k:
            raise ValueError("label keys must be non-empty strings, got %r" % (k,))
        if not isinstance(v, str):
            raise ValueError("label %r must have a string value, got %r" % (k, v))
        if k.startswith(RESERVED_PREFIX):
            raise ValueError("label %r uses the reserved prefix %r (set by lumos itself)" % (k, RESERVED_PREFIX))
    return dict(labels)


def publish(gcs, node_id, labels):
    gcs.kv_put(LABELS_NS, node_id, json.dumps(labels).encode())


def of_node(gcs, node_id):
    """The labels of `node_id` (hex), the default ones included."""
    raw = gcs.kv_get(LABELS_NS, node_id) if gcs is not None else None
    labels = json.loads(raw) if raw else {}
    labels[RESERVED_PREFIX + "node_id"] = node_id
    return labels
