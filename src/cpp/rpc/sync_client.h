#pragma once
// A blocking fastpath client for strict request/reply use from one thread at a
// time (the object store client; benchmarks). No event loop: the calling thread
// writes the request and reads until its reply, so a call costs one round trip
// and no thread wake-ups. Thread safe: calls are serialized by a mutex.
#include <google/protobuf/message.h>

#include <mutex>
#include <string>

#include "common/status.h"
#include "rpc/frame.h"

namespace lumos::rpc {

class SyncClient {
 public:
  SyncClient() = default;
  ~SyncClient();
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  /// \brief Connects, retrying for up to timeout_ms while the server starts.
  Status Connect(const std::string& path, int64_t timeout_ms);
  /// \brief One request/reply. When `received_fd` is given and the reply carries
  /// a descriptor, it is stored there (the caller owns it).
  Status Call(uint16_t method, const google::protobuf::Message& request,
              google::protobuf::Message* reply, int* received_fd = nullptr);
  /// \brief Sends a request without waiting; its reply is skipped by later calls.
  Status CallNoWait(uint16_t method, const google::protobuf::Message& request);
  void Close();
  bool connected() const { return fd_ >= 0; }

 private:
  Status WriteAll(const std::string& bytes);
  Status ReadFrame(Frame* frame, int* received_fd);

  std::mutex mu_;
  int fd_ = -1;
  uint64_t next_id_ = 1;
  std::string inbuf_;
};

}  // namespace lumos::rpc
