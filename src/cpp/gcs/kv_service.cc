#include "gcs/kv_service.h"

#include <string>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "gcs/grpc_auth.h"
#include "gcs/service_util.h"

namespace lumos::gcs {

std::string InternalKVService::StorageKey(const std::string& ns, const std::string& key) {
  uint32_t n = static_cast<uint32_t>(ns.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                  static_cast<char>(n)};
  return out + ns + key;
}

Status InternalKVService::Restore(const GcsStorage::Rows& rows) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [k, v] : rows) {
    if (k.size() < 4) return Status::Invalid("malformed KV row key of " + std::to_string(k.size()) + " bytes");
    uint32_t n = (uint32_t(uint8_t(k[0])) << 24) | (uint32_t(uint8_t(k[1])) << 16) |
                 (uint32_t(uint8_t(k[2])) << 8) | uint32_t(uint8_t(k[3]));
    if (k.size() < 4 + size_t(n)) return Status::Invalid("malformed KV row key (namespace past its end)");
    manager_.Put(k.substr(4, n), k.substr(4 + n), v, /*overwrite=*/true);
  }
  return Status::OK();
}

// REQUIRES: mu_ held. `value` null = deleted.
void InternalKVService::Save(const std::string& ns, const std::string& key, const std::string* value) {
  Status s = value != nullptr ? storage_->Put(GcsStorage::Table::kKv, StorageKey(ns, key), *value)
                              : storage_->Delete(GcsStorage::Table::kKv, StorageKey(ns, key));
  if (!s.ok()) LUMOS_LOG(Error) << "KV change not saved: " << s.ToString();
}

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
    if (storage_ != nullptr && (added || req->overwrite())) Save(req->namespace_(), req->key(), &req->value());
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
    if (storage_ != nullptr) {
      std::vector<std::string> gone;
      if (req->del_by_prefix()) {
        gone = manager_.Keys(req->namespace_(), req->key());
      } else if (manager_.Exists(req->namespace_(), req->key())) {
        gone.push_back(req->key());
      }
      for (const auto& k : gone) Save(req->namespace_(), k, nullptr);
    }
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
