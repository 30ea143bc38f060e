#include "gcs/kv_service.h"

#include <string>
#include <utility>
#include <vector>

#include "gcs/grpc_auth.h"
#include "gcs/service_util.h"

namespace lumos::gcs {

grpc::Status InternalKVService::KVGet(grpc::ServerContext* context, const rpc::KVGetRequest* req,
                                      rpc::KVGetReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  std::string value;
  bool found;
  {
    std::lock_guard<std::mutex> lock(mu_);
    found = manager_.Get(req->namespace_(), req->key(), &value);
  }
  reply->set_found(found);
  if (found) reply->set_value(std::move(value));
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status InternalKVService::KVPut(grpc::ServerContext* context, const rpc::KVPutRequest* req,
                                      rpc::KVPutReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  bool added;
  {
    std::lock_guard<std::mutex> lock(mu_);
    added = manager_.Put(req->namespace_(), req->key(), req->value(), req->overwrite());
  }
  reply->set_added(added);
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status InternalKVService::KVDel(grpc::ServerContext* context, const rpc::KVDelRequest* req,
                                      rpc::KVDelReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  int64_t deleted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    deleted = manager_.Del(req->namespace_(), req->key(), req->del_by_prefix());
  }
  reply->set_deleted_num(deleted);
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status InternalKVService::KVExists(grpc::ServerContext* context, const rpc::KVExistsRequest* req,
                                         rpc::KVExistsReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  bool exists;
  {
    std::lock_guard<std::mutex> lock(mu_);
    exists = manager_.Exists(req->namespace_(), req->key());
  }
  reply->set_exists(exists);
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status InternalKVService::KVKeys(grpc::ServerContext* context, const rpc::KVKeysRequest* req,
                                       rpc::KVKeysReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  std::vector<std::string> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys = manager_.Keys(req->namespace_(), req->prefix());
  }
  for (auto& key : keys) reply->add_keys(std::move(key));
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

}  // namespace lumos::gcs
