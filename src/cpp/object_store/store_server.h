#pragma once
// StoreServer: the node's shared-memory object store, served over fastpath.
//
// The arena is one memfd of `capacity_bytes`, mapped by every client (the fd is
// passed in the STORE_CONNECT reply with SCM_RIGHTS). Bookkeeping is an
// ObjectTable; this class is the I/O shell around it: it decodes STORE_* frames
// (method numbers in protos/common.proto, messages in object_manager.proto),
// applies them, and replies.
//
// Protocol: a connection must start with STORE_CONNECT (client_id = the
// client's 16-byte WorkerID); any other request before it fails with
// NotInitialized. STORE_RELEASE is a one-way frame (no reply); every other
// request gets a reply or an RpcError carrying the Status. Several connections
// may use the same client id: the client counts as gone (ObjectTable::
// ClientDisconnected: pins dropped, owned objects deleted, unsealed creations
// aborted) when its last connection closes.
// Bad input never takes the process down: an unparsable payload, an id of the
// wrong length gets an error reply (InvalidArgument, Invalid); an unknown
// method gets NotImplemented and closes the connection, as does a bad one-way
// frame (both logged once naming the peer's pid: Connection::CloseBadPeer).
//
// Threading: everything except Stats() runs on the io_context's loop thread
// (spill file I/O runs on the SpillScheduler's threads, which touch only the
// arena blocks the table keeps allocated for them; the destructor joins them
// before unmapping the arena).
// Start() may be called from any thread before or while the loop runs. Stop()
// and the destructor act at once on the loop thread or once the loop has
// stopped; from another thread they hand the work to the running loop and wait
// (so do not call them from another thread on a loop that was never run).
// Stats() is thread safe.
// Ownership: owns the memfd, its mapping and the listening socket (unlinked on
// Stop), and the spill/external files of its objects (unlinked when the object
// is deleted and at destruction). Clients' mappings stay valid after the
// server is gone.
//
// Memory pressure (when SpillOptions::enabled): a Create that does not fit
// asks the SpillScheduler for room: it evicts unpinned cached copies and
// spills unpinned primary objects to files in the spill directory, least
// recently used first, with the file I/O on its own threads. The Create's
// reply waits (other requests are served meanwhile) until the block fits. An
// object that cannot fit even after that (bigger than the arena, or the arena
// is full of pinned objects) becomes an external object: a file of its own in
// the spill directory that the client maps directly. A Get of a spilled
// object waits while the scheduler restores it into the arena (spilling
// others if needed, checksum verified); when it cannot fit, or it is already
// being read from its file, the client maps the spill file itself (checked
// first). A spill write failure (disk full, file size limit, unwritable
// directory) fails the waiting Creates with OutOfMemory naming the cause;
// nothing is retried in a loop and no object changes state.
// Requests that need no I/O (Gets of objects in memory, Creates that fit,
// Seal, Release...) never wait for spill or restore I/O.
#include <asio.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/id.h"
#include "common/status.h"
#include "object_store/object_table.h"
#include "object_store/spill_scheduler.h"
#include "rpc/connection.h"
#include "rpc/server.h"

namespace lumos::rpc {
class StoreGetReply;
}  // namespace lumos::rpc

namespace lumos::object_store {

struct StoreStats {
  uint64_t capacity = 0;
  uint64_t used = 0;
  uint64_t num_objects = 0;
  uint64_t spilled_bytes = 0;
  uint64_t num_spilled = 0;
};

class StoreServer {
 public:
  StoreServer(asio::io_context& io, std::string socket_path, uint64_t capacity_bytes,
              SpillOptions spill = {});
  ~StoreServer();
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;

  /// \brief Creates the arena (memfd_create + ftruncate + mmap) and listens on
  /// the socket path. Fails with InvalidArgument (capacity below 64 bytes, path
  /// too long) or IOError (memfd, mmap or bind failed). Call once.
  Status Start();
  /// \brief Stops accepting, closes every connection that has sent a frame
  /// (their clients are handled as disconnected) and unlinks the socket; a
  /// connection that never sent anything closes when the io_context goes away.
  /// Idempotent.
  void Stop();
  /// \brief Capacity, bytes in use and number of objects. Thread safe; reflects
  /// at least every request whose reply has been sent.
  StoreStats Stats() const;
  const std::string& socket_path() const { return socket_path_; }
  /// \brief The server's own mapping of the arena (null before Start), for
  /// in-process readers such as the object manager.
  uint8_t* arena() const { return arena_; }

 private:
  struct Session;
  void StopOnLoop();
  void OnFrame(const rpc::ConnectionPtr& conn, rpc::Frame&& frame);
  void OnClose(const rpc::ConnectionPtr& conn, const Status& reason);
  // One handler per method; each returns the status to send when it did not reply.
  Status HandleConnect(const rpc::ConnectionPtr& conn, Session* s, const rpc::Frame& f);
  Status HandleCreate(const rpc::ConnectionPtr& conn, Session* s, const rpc::Frame& f);
  Status HandleSeal(const rpc::ConnectionPtr& conn, Session* s, const rpc::Frame& f);
  Status HandleGet(const rpc::ConnectionPtr& conn, Session* s, const rpc::Frame& f);
  Status HandleRelease(const rpc::ConnectionPtr& conn, Session* s, const rpc::Frame& f);
  Status HandleDelete(const rpc::ConnectionPtr& conn, Session* s, const rpc::Frame& f);
  Status HandleAbort(const rpc::ConnectionPtr& conn, Session* s, const rpc::Frame& f);
  Status HandleContains(const rpc::ConnectionPtr& conn, Session* s, const rpc::Frame& f);
  Status HandleStats(const rpc::ConnectionPtr& conn, Session* s, const rpc::Frame& f);
  struct PendingCreate;
  struct PendingGet;
  // The second half of a Create that did not fit: once the scheduler made
  // room (or could not), allocate or place the object in a file, and reply.
  void FinishCreate(const PendingCreate& c, const Status& room);
  // Pins the found objects and replies (once every Load it waited for is done).
  void FinishGet(const PendingGet& g);
  // Pins the found objects of `ids` for the session's client and describes
  // them; errors (per id, optional) are the Loads' failures.
  rpc::StoreGetReply GetReply(Session* s, const std::vector<ObjectID>& ids,
                              const std::vector<std::string>* errors);
  void RemoveDeletedFiles();
  // Spill files left in the spill directory by stores whose process is gone
  // (a crashed raylet sharing a user-given directory).
  void RemoveStaleSpillFiles();
  Status MakeArena();
  void Reply(const rpc::ConnectionPtr& conn, const rpc::Frame& request,
             const google::protobuf::Message& reply);
  void PublishStats();

  asio::io_context& io_;
  const std::string socket_path_;
  const uint64_t capacity_;
  const SpillOptions spill_;
  int arena_fd_ = -1;
  uint8_t* arena_ = nullptr;
  uint64_t arena_size_ = 0;
  std::unique_ptr<rpc::FastpathServer> server_;
  bool stopped_ = false;
  // Shared with the connection callbacks, which may outlive this object.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);

  // Loop-thread state.
  ObjectTable table_;
  std::unordered_set<rpc::ConnectionPtr> connections_;  // those that sent a frame
  std::unordered_map<WorkerID, int> connections_per_client_;

  SpillScheduler scheduler_;

  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> num_objects_{0};
  std::atomic<uint64_t> spilled_bytes_{0};
  std::atomic<uint64_t> num_spilled_{0};
};

}  // namespace lumos::object_store
