#pragma once
// GcsClient: synchronous C++ client of the GCS's gRPC services, used by the
// raylet and the core worker.
//
// Thread safety: every method may be called from any thread concurrently (the
// gRPC channel and stubs are thread safe; the client keeps no other mutable
// state). Each call blocks for at most Config::Get().gcs_rpc_timeout_ms().
//
// Errors: a GCS that cannot be reached gives Disconnected naming the address;
// a call past its deadline gives TimedOut; a GCS that refuses a request
// returns the GcsStatus it sent (e.g. AlreadyExists, NotFound) as a Status.
// Outputs are written only when the returned Status is OK.
//
// gRPC headers stay out of this file (pimpl): many files include it. The
// protobuf messages (rpc::NodeInfo, rpc::JobInfo) come with it.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "gcs_service.pb.h"

namespace lumos::rpc {

class GcsClient {
 public:
  /// \brief Prepares a channel to `address` ("host:port"); no I/O happens yet.
  explicit GcsClient(std::string address);
  ~GcsClient();
  GcsClient(const GcsClient&) = delete;
  GcsClient& operator=(const GcsClient&) = delete;

  /// \brief Retries CheckAlive until the GCS answers or `timeout_ms` passes.
  /// The error names the address and the timeout.
  Status Connect(int64_t timeout_ms);

  const std::string& address() const { return address_; }

  // Node table.
  Status RegisterNode(const NodeInfo& node);
  Status UnregisterNode(const NodeID& node_id, const std::string& reason);
  Status GetAllNodeInfo(std::vector<NodeInfo>* nodes);
  /// \brief Heartbeat + available resources. `*node_is_dead` is true when the
  /// GCS has declared this node dead (the raylet should exit).
  Status ReportResources(const NodeID& node_id, const std::map<std::string, double>& available,
                         bool* node_is_dead);

  // Job table.
  Status GetNextJobId(JobID* job_id);
  Status AddJob(const JobInfo& job);
  Status MarkJobFinished(const JobID& job_id);
  Status GetAllJobInfo(std::vector<JobInfo>* jobs);

  // Internal KV. A missing key is not an error: see `found` / `exists`.
  Status KVGet(const std::string& ns, const std::string& key, std::string* value, bool* found);
  Status KVPut(const std::string& ns, const std::string& key, const std::string& value,
               bool overwrite, bool* added);
  Status KVDel(const std::string& ns, const std::string& key, bool by_prefix, int64_t* deleted);
  Status KVExists(const std::string& ns, const std::string& key, bool* exists);
  Status KVKeys(const std::string& ns, const std::string& prefix, std::vector<std::string>* keys);

 private:
  struct Impl;
  const std::string address_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lumos::rpc
