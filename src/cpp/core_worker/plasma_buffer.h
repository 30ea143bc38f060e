#pragma once
// PlasmaBuffer: a Buffer over an object's bytes in the node's shared-memory
// store, pinned for as long as the buffer lives (released in the destructor).
// Thread safety: immutable; the destructor may run on any thread.
#include <memory>

#include "core_worker/ray_object.h"
#include "object_store/store_client.h"

namespace lumos::core {

class PlasmaBuffer : public Buffer {
 public:
  PlasmaBuffer(std::shared_ptr<object_store::StoreClient> client, ObjectID id, const uint8_t* data, size_t size)
      : client_(std::move(client)), id_(id), data_(data), size_(size) {}
  ~PlasmaBuffer() override { client_->Release(id_); }
  const uint8_t* data() const override { return data_; }
  size_t size() const override { return size_; }
  bool is_shared_memory() const override { return true; }

 private:
  std::shared_ptr<object_store::StoreClient> client_;  // keeps the mapping alive
  ObjectID id_;
  const uint8_t* data_;
  size_t size_;
};

}  // namespace lumos::core
