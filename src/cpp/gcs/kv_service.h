#pragma once
// InternalKVService: the gRPC shell of InternalKVGcsService over GcsKvManager.
//
// Thread safety: every handler takes mu_. Owns its GcsKvManager. Handlers
// always return grpc::Status::OK with an OK GcsStatus: a missing key is
// reported through `found` / `exists` / counts, never as an error.
#include <mutex>

#include "gcs/kv_manager.h"
#include "gcs_service.grpc.pb.h"

namespace lumos::gcs {

class InternalKVService final : public rpc::InternalKVGcsService::Service {
 public:
  InternalKVService() = default;

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
  std::mutex mu_;
  GcsKvManager manager_;  // guarded by mu_
};

}  // namespace lumos::gcs
