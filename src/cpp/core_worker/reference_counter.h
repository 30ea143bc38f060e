#pragma once
// ReferenceCounter: decides when this process may forget an object.
//
// For objects this worker OWNS (it put them or submitted the task that makes
// them) it counts: local refs (live Python ObjectRefs), refs held by pending
// tasks it submitted (arguments, including refs nested in inline arguments),
// and refs held by other owned objects that contain them. When all reach zero
// the object is deleted (memory store and object store copy).
//
// An owned ref that is serialized out of this process ("escaped") is pinned
// until the process exits: lumos does not yet track borrowers (see
// docs/ARCHITECTURE.md; the borrower protocol is a later issue).
//
// For BORROWED objects (owned elsewhere) it counts local refs only; at zero the
// cached value is dropped.
//
// Pure state, no I/O. Thread safety: all methods are thread safe.
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common.pb.h"
#include "common/id.h"

namespace lumos::core {

struct DeletedObject {
  ObjectID id;
  bool owned;
  bool in_plasma;
};

class ReferenceCounter {
 public:
  /// \brief Registers an owned object (no refs yet) containing `contained` refs,
  /// which stay alive as long as it does.
  void AddOwnedObject(const ObjectID& id, const std::vector<ObjectID>& contained, bool in_plasma);
  /// \brief A Python ObjectRef was created. Unknown ids become borrowed refs
  /// owned by `owner`.
  void AddLocalRef(const ObjectID& id, const rpc::Address* owner);
  void RemoveLocalRef(const ObjectID& id, std::vector<DeletedObject>* deleted);
  void AddSubmittedTaskRefs(const std::vector<ObjectID>& ids);
  void RemoveSubmittedTaskRefs(const std::vector<ObjectID>& ids, std::vector<DeletedObject>* deleted);
  void MarkEscaped(const ObjectID& id);
  void SetInPlasma(const ObjectID& id);
  /// \brief Records the refs contained in an owned object once its value is known
  /// (e.g. a task's return value holding refs).
  void AddContainedRefs(const ObjectID& outer, const std::vector<ObjectID>& contained);

  bool IsOwned(const ObjectID& id) const;
  bool Has(const ObjectID& id) const;
  std::optional<rpc::Address> GetOwner(const ObjectID& id) const;
  size_t NumObjects() const;
  size_t NumOwned() const;

 private:
  struct Ref {
    bool owned = false;
    bool in_plasma = false;
    bool escaped = false;
    int64_t local = 0;
    int64_t submitted = 0;
    int64_t contained_in = 0;  // owned objects holding this ref
    std::vector<ObjectID> contains;
    rpc::Address owner;  // borrowed only
  };
  void MaybeDeleteLocked(const ObjectID& id, std::vector<DeletedObject>* deleted);

  mutable std::mutex mu_;
  std::unordered_map<ObjectID, Ref> refs_;
};

}  // namespace lumos::core
