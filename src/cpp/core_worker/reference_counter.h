#pragma once
// ReferenceCounter: decides when this process may forget an object.
//
// For objects this worker OWNS (it put them or submitted the task that makes
// them) it counts: local refs (live Python ObjectRefs), refs held by pending
// tasks it submitted (arguments, including refs nested in inline arguments),
// refs held by other objects that contain them, and BORROWERS: other processes
// registered as holding the ref (endpoint -> number of registrations). When
// all reach zero the object is deleted (memory store and object store copy).
//
// For BORROWED objects (owned elsewhere) it counts the same local, submitted
// and contained holds, plus how many registrations this process holds at the
// owner. When the holds reach zero the cached value is dropped and the caller
// sends the owner a REMOVE_BORROWERS for those registrations.
//
// Borrower protocol (docs/ARCHITECTURE.md, "Borrowers"): a process that
// deserializes a ref it does not own registers itself with the owner before
// the thing that carried the ref (a pending task's argument, an object that
// contains it) can be released; an executor returning refs registers its
// caller before replying (the reply lists them in preregistered_refs). A ref
// pickled outside lumos's serializer is "escaped": pinned until the owner exits.
//
// Pure state, no I/O. Thread safety: all methods are thread safe.
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common.pb.h"
#include "common/id.h"

namespace lumos::core {

struct DeletedObject {
  ObjectID id;
  bool owned;
  bool in_plasma;
  // Borrowed only: registrations this process held at the owner, to drop there.
  int64_t registrations = 0;
  std::string owner_endpoint;
};

/// One row of the reference table (memory tooling).
struct ReferenceInfo {
  ObjectID id;
  rpc::Address owner;  // empty when owned
  bool owned = false;
  bool in_plasma = false;
  bool escaped = false;
  int64_t local = 0;
  int64_t submitted = 0;
  int64_t contained_in = 0;
  int64_t borrowers = 0;  // owned: registrations held by other processes
  std::string call_site;
};

class ReferenceCounter {
 public:
  /// \brief `self_worker_id`/`self_endpoint` identify this process, so refs it
  /// owns are never registered with itself.
  void SetSelf(const std::string& worker_id, const std::string& endpoint);

  /// \brief Registers an owned object (no refs yet) containing `contained` refs,
  /// which stay alive as long as it does.
  void AddOwnedObject(const ObjectID& id, const std::vector<ObjectID>& contained, bool in_plasma);
  /// \brief A Python ObjectRef was created. Unknown ids become borrowed refs
  /// owned by `owner`.
  void AddLocalRef(const ObjectID& id, const rpc::Address* owner);
  /// \brief A ref came out of deserialization: AddLocalRef, and true when this
  /// process must now register as a borrower with the owner (it holds no
  /// registration and none is in flight). Marks the registration in flight.
  bool AddDeserializedRef(const ObjectID& id, const rpc::Address& owner);
  /// \brief The owner accepted a registration. False when the ref is already
  /// gone here: the caller must drop that registration at the owner at once.
  bool OnRegistered(const ObjectID& id);
  /// \brief A registration in flight failed (owner gone or did not know it).
  void OnRegistrationFailed(const ObjectID& id);
  void RemoveLocalRef(const ObjectID& id, std::vector<DeletedObject>* deleted);
  void AddSubmittedTaskRefs(const std::vector<ObjectID>& ids);
  void RemoveSubmittedTaskRefs(const std::vector<ObjectID>& ids, std::vector<DeletedObject>* deleted);
  /// \brief Pins an owned object until this process exits (pickled out of band).
  void MarkEscaped(const ObjectID& id);
  void SetInPlasma(const ObjectID& id);
  /// \brief Where an owned object was created (only when the user asks to record it).
  void SetCallSite(const ObjectID& id, std::string site);
  /// \brief Records the refs contained in an owned object once its value is
  /// known (e.g. a task's return value holding refs); unknown inner refs become
  /// borrowed refs of their owners.
  void AddContainedRefs(const ObjectID& outer, const std::vector<rpc::ObjectReference>& contained);
  /// \brief Applies a task reply's preregistered_refs: a borrowed ref gains a
  /// registration; an owned one drops the self-registration that bridged it.
  void ApplyPreregistered(const std::vector<ObjectID>& ids, std::vector<DeletedObject>* deleted);

  // ---- owner side of the borrower protocol
  /// \brief Registers `endpoint` once for each id this process owns and still
  /// has; the result says which were accepted.
  std::vector<bool> AddBorrowers(const std::vector<ObjectID>& ids, const std::string& endpoint);
  void RemoveBorrowers(const ObjectID& id, const std::string& endpoint, int64_t count,
                       std::vector<DeletedObject>* deleted);
  /// \brief The process at `endpoint` is gone: drops all its registrations.
  void RemoveBorrowerEverywhere(const std::string& endpoint, std::vector<DeletedObject>* deleted);
  /// \brief Registrations this process holds at the owner of a borrowed ref.
  int64_t RegistrationsHeld(const ObjectID& id) const;
  /// \brief The borrowed refs whose owner is the process at `owner_endpoint`.
  std::vector<ObjectID> BorrowedFrom(const std::string& owner_endpoint) const;

  bool IsOwned(const ObjectID& id) const;
  bool Has(const ObjectID& id) const;
  std::optional<rpc::Address> GetOwner(const ObjectID& id) const;
  size_t NumObjects() const;
  size_t NumOwned() const;
  std::vector<ReferenceInfo> Snapshot() const;

 private:
  struct Ref {
    bool owned = false;
    bool in_plasma = false;
    bool escaped = false;
    bool registration_pending = false;
    int64_t local = 0;
    int64_t submitted = 0;
    int64_t contained_in = 0;  // objects holding this ref
    int64_t registrations = 0;  // borrowed: held at the owner
    std::vector<ObjectID> contains;
    std::vector<std::pair<std::string, int64_t>> borrowers;  // owned: endpoint -> count
    rpc::Address owner;  // borrowed only
    std::string call_site;
  };
  bool IsSelfLocked(const rpc::Address& a) const { return a.worker_id() == self_worker_id_; }
  // Finds or creates the entry of a ref owned by `owner` (nullptr: unknown).
  Ref& EntryLocked(const ObjectID& id, const rpc::Address* owner);
  void ChangeBorrowerLocked(Ref& r, const std::string& endpoint, int64_t delta);
  void MaybeDeleteLocked(const ObjectID& id, std::vector<DeletedObject>* deleted);

  mutable std::mutex mu_;
  std::string self_worker_id_;
  std::string self_endpoint_;
  std::unordered_map<ObjectID, Ref> refs_;
};

}  // namespace lumos::core
