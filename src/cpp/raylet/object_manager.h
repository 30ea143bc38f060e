#pragma once
// ObjectManager: moves objects between the object stores of different nodes.
// Lives in the raylet, beside the store, and talks to it as an ordinary store
// client (so spilled and file-backed objects are served like any other).
//
// * Serving: a TCP port on the node's IP (authenticated, rpc/handshake.h); a
//   thread per connection answers OBJECT_INFO (pins the object for the
//   connection), OBJECT_CHUNK (raw bytes written straight from shared memory)
//   and OBJECT_FREE (delete local copies).
// * Pulling: Pull() queues objects in a PullQueue (merged per object, get >
//   wait > task arguments, admitted against the store's free bytes); pull
//   threads fetch each from its node in pipelined chunks received straight
//   into a store buffer created for it (a secondary copy: evicted, never
//   spilled, under pressure), sealed when complete.
// * Same host: a node on this host (same IP) is pulled from without TCP:
//   the object manager connects to that node's store socket as a client,
//   maps its arena and copies the object straight from one shared-memory
//   arena into the other (one memcpy; a loopback TCP stream costs two kernel
//   copies and a wake-up per buffer).
// * Freeing: FreeRemote() sends OBJECT_FREE to the nodes holding copies.
// * Draining (object_manager_handoff.cc): HandOff() asks another node's
//   object manager (OBJECT_TAKE) to fetch an object from this node and keep
//   it as a primary copy, before this node goes away.
//
// Threads: an accept thread, one per serving connection (at most
// kMaxServingConnections), `num_pull_threads` pull threads, one free thread.
// Thread safety: every public method is thread safe; Pull's callback runs on
// a pull thread (or the caller's, when nothing needs fetching).
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "object_store/store_client.h"
#include "raylet/pull_queue.h"
#include "rpc/frame.h"

namespace lumos::raylet {

class ObjectManager {
 public:
  struct Options {
    NodeID node_id;
    std::string node_ip = "127.0.0.1";
    int port = 0;  // 0: any free port
    std::string store_socket;
    int num_pull_threads = 2;
    uint64_t chunk_bytes = 64ull << 20;
  };
  /// \brief Called with one error string per requested object ("" = local now).
  using PullDone = std::function<void(std::vector<std::string> errors)>;

  explicit ObjectManager(Options options);
  ~ObjectManager();

  /// \brief Connects to the store and starts serving; *bound_port is the port.
  Status Start(int* bound_port);
  void Stop();

  /// \brief Where node `node`'s object manager listens (from the GCS node
  /// table), and its store's Unix socket (used when it runs on this host).
  void SetNodeAddress(const NodeID& node, const std::string& ip, int port, const std::string& store_socket = "");
  void RemoveNode(const NodeID& node);

  /// \brief Makes ids[i] (held by nodes[i]) local; `sizes` may be 0 (unknown).
  void Pull(const std::vector<ObjectID>& ids, const std::vector<NodeID>& nodes,
            const std::vector<uint64_t>& sizes, int priority, PullDone done);
  /// \brief Deletes the copies ids[i] on nodes[i] (asynchronous, best effort).
  void FreeRemote(const std::vector<ObjectID>& ids, const std::vector<NodeID>& nodes);

  /// \brief A primary copy in this node's store, to hand over when draining.
  struct PrimaryCopy {
    ObjectID id;
    uint64_t size = 0;
    std::string owner_endpoint;
  };
  /// \brief The sealed primary copies in this node's store.
  Result<std::vector<PrimaryCopy>> PrimaryCopies();
  /// \brief Blocks until node `target` holds `id` (fetched from this node)
  /// as a primary copy kept for `owner_endpoint`, or fails naming why.
  Status HandOff(const ObjectID& id, const NodeID& target, const std::string& owner_endpoint);

  static constexpr int kMaxServingConnections = 256;

 private:
  struct Batch {
    std::vector<std::string> errors;
    std::unordered_map<ObjectID, std::vector<size_t>> positions;
    size_t remaining = 0;
    PullDone done;
  };
  struct Address {
    std::string ip;
    int port = 0;
    std::string store_socket;
  };

  /// \brief How a fetched copy is kept: a cached (secondary) one, or the
  /// primary copy handed over by a draining node.
  struct CopyKind {
    bool primary = false;
    std::string owner_endpoint;
  };

  void AcceptLoop();
  void Serve(int fd);
  void PullLoop();
  void FreeLoop();
  /// \brief Fetches one object from `node` into the local store.
  Status Transfer(const ObjectID& id, const NodeID& node, const CopyKind& kind);
  /// \brief Serving side of OBJECT_TAKE: fetches the object from the
  /// requesting (draining) node as a primary copy, then replies.
  Status ServeTake(int fd, const rpc::Frame& request);
  /// \brief Creates the local (secondary) copy's buffer; *dst stays null when
  /// a copy exists already. Errors name the object, its size and the node.
  Status CreateCopy(const ObjectID& id, const NodeID& node, uint64_t data_size, uint64_t metadata_size,
                    uint8_t** dst, const CopyKind& kind);
  /// \brief Copies one object from the store of a node on this host.
  Status CopyFromLocalStore(const ObjectID& id, const NodeID& node, const std::string& store_socket,
                            const CopyKind& kind);
  /// \brief A client of that node's store (connected once, kept).
  Result<std::shared_ptr<object_store::StoreClient>> PeerStore(const NodeID& node, const std::string& socket);
  uint64_t FreeStoreBytes();

  Options options_;
  object_store::StoreClient store_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::thread accept_thread_;
  std::vector<std::thread> pull_threads_;
  std::thread free_thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                               // GUARDED_BY(mu_)
  PullQueue queue_;                                     // GUARDED_BY(mu_)
  std::unordered_map<ObjectID, NodeID> sources_;        // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, Batch> batches_;         // GUARDED_BY(mu_)
  uint64_t next_batch_ = 1;                             // GUARDED_BY(mu_)
  std::unordered_map<NodeID, Address> nodes_;           // GUARDED_BY(mu_)
  std::unordered_map<NodeID, std::shared_ptr<object_store::StoreClient>> peer_stores_;  // GUARDED_BY(mu_)
  std::deque<std::pair<NodeID, std::vector<ObjectID>>> frees_;  // GUARDED_BY(mu_)
  int serving_ = 0;                                     // GUARDED_BY(mu_)
  std::vector<int> serving_fds_;                        // GUARDED_BY(mu_)
  std::condition_variable serving_cv_;
};

}  // namespace lumos::raylet
