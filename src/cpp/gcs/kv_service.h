#pragma once
// InternalKVService: the gRPC shell of InternalKVGcsService over GcsKvManager.
//
// Thread safety: every handler takes mu_. Owns its GcsKvManager. Handlers
// always return grpc::Status::OK with an OK GcsStatus: a missing key is
// reported through `found` / `exists` / counts, never as an error.
// With SetStorage, every put and delete is also written to GcsStorage (under
// mu_, before the reply); Restore loads the stored rows back at start.
#include <mutex>

#include "gcs/gcs_storage.h"
#include "gcs/kv_manager.h"
#include "gcs_service.grpc.pb.h"

namespace lumos::gcs {

class InternalKVService final : public rpc::InternalKVGcsService::Service {
 public:
  InternalKVService() = default;
  /// \brief Persist to `storage` (null: memory only). REQUIRES: before serving.
  void SetStorage(GcsStorage* storage) { storage_ = storage; }
  /// \brief Loads the stored KV rows; the error names a malformed row.
  Status Restore(const GcsStorage::Rows& rows);
  /// \brief The storage key of (ns, key): 4-byte big-endian ns length, ns, key.
  static std::string StorageKey(const std::string& ns, const std::string& key);

  grpc::Status KVGet(grpc::ServerContext* ctx, const rpc::KVGetRequest* req,
                     rpc::KVGetReply* reply) override;
  grpc::Status KVPut(grpc::ServerContext* ctx, const rpc::KVPutRequest* req,
                     rpc::KVPutReply* reply) override;
  grpc::Status KVDel(grpc::ServerContext* ctx, const rpc::KVDelRequest* req,
                     rpc::KVDelReply* reply) override;
  grpc::Status KVExists(grpc::ServerContext* ctx, const rpc::KVExistsRequest* req,
                        rpc::KVExistsReply* reply) override;
  grpc::Status KVKeys(grpc::ServerContext* ctx, const rpc::KVKeysRequest* req,
                      rpc::KVKeysReply* reply) override;

 private:
  void Save(const std::string& ns, const std::string& key, const std::string* value);

  std::mutex mu_;
  GcsKvManager manager_;  // guarded by mu_
  GcsStorage* storage_ = nullptr;
};

}  // namespace lumos::gcs
