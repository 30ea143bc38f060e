#pragma once
// RayObject: a value as the core worker holds it: data + metadata + the refs
// serialized inside it, or a marker that the value lives in a node's object store.
// Immutable once built; shared by shared_ptr across threads.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common.pb.h"
#include "common/id.h"

namespace lumos::core {

// Metadata tags (mirrored in python/lumos/_private/serialization.py).
inline constexpr const char* kMetaPickle = "P";          // pickle5, no out-of-band buffers
inline constexpr const char* kMetaPickleBuffers = "P5";  // header + pickle + aligned buffers
inline constexpr const char* kMetaTaskError = "E";       // pickled RayTaskError
inline constexpr const char* kMetaWorkerDied = "EW";     // utf-8 message
inline constexpr const char* kMetaObjectLost = "EL";     // utf-8 message
inline constexpr const char* kMetaReconstructionFailed = "ER";  // utf-8 message
inline constexpr const char* kMetaSystemError = "ES";    // utf-8 message
inline constexpr const char* kMetaTaskCancelled = "EC";  // utf-8 message
inline constexpr const char* kMetaPlacementGroupRemoved = "EP";  // utf-8 message
inline constexpr const char* kMetaNodeDied = "EN";       // utf-8 message (NodeDiedError)

/// \brief Read-only bytes. Subclasses own or pin their memory.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual const uint8_t* data() const = 0;
  virtual size_t size() const = 0;
  /// \brief True when the bytes live in shared memory (zero-copy to Python).
  virtual bool is_shared_memory() const { return false; }
};

class StringBuffer : public Buffer {
 public:
  explicit StringBuffer(std::string s) : s_(std::move(s)) {}
  const uint8_t* data() const override { return reinterpret_cast<const uint8_t*>(s_.data()); }
  size_t size() const override { return s_.size(); }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

struct RayObject {
  std::shared_ptr<Buffer> data;  // null when in_plasma and not fetched yet
  std::string metadata;
  std::vector<rpc::ObjectReference> nested_refs;
  bool in_plasma = false;  // value lives in an object store ...
  std::string node_id;     // ... of this node (NodeID binary; empty: the local node)
  int64_t size = -1;       // bytes, when known (task returns)

  bool IsError() const { return !metadata.empty() && metadata[0] == 'E'; }
  static std::shared_ptr<RayObject> Inline(std::string data, std::string metadata) {
    auto o = std::make_shared<RayObject>();
    o->data = std::make_shared<StringBuffer>(std::move(data));
    o->metadata = std::move(metadata);
    return o;
  }
  static std::shared_ptr<RayObject> InPlasma(std::string node_id = "") {
    auto o = std::make_shared<RayObject>();
    o->in_plasma = true;
    o->node_id = std::move(node_id);
    return o;
  }
  static std::shared_ptr<RayObject> FromInline(const rpc::InlineObject& v) {
    auto o = Inline(v.data(), v.metadata());
    o->nested_refs.assign(v.nested_refs().begin(), v.nested_refs().end());
    return o;
  }
};

}  // namespace lumos::core
