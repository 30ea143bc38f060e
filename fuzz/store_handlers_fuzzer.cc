// Fuzzes every request handler of the object store (StoreServer): a client
// connection sends arbitrary frames (method, kind, flags, payload) over the
// store's real Unix socket; the server must answer or drop the connection,
// never crash, hang or leak (ASan's leak check runs at exit).
// Input: byte 0 is the mode, the rest the frames (fuzz/fastpath_driver.h):
//   bit 0    start with a valid STORE_CONNECT (so inputs reach the handlers
//            past the connect check without having to discover it)
//   bit 1    spilling on (objects that do not fit go to files in a temp dir)
//   bits 2-4 arena capacity: 4 KiB << n
// Each input gets a fresh store (state does not leak between inputs, so a
// crash replays from its input alone).
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <filesystem>
#include <string>

#include "common.pb.h"
#include "common/id.h"
#include "fastpath_driver.h"
#include "object_manager.pb.h"
#include "object_store/store_server.h"

namespace {

std::string& TempDir() {
  static std::string dir;
  return dir;
}

void RemoveTree(const std::string& path) {
  std::error_code ignored;  // best effort at exit
  std::filesystem::remove_all(path, ignored);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("LUMOS_LOG_LEVEL", "error", 0);
  TempDir() = lumos::fuzz::MakeTempDir("lumos_fuzz_store");
  if (TempDir().empty()) __builtin_trap();
  ::atexit([] { RemoveTree(TempDir()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lumos;
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  asio::io_context io;  // per input too: outlives the store, like the raylet's loop
  object_store::SpillOptions spill;
  spill.enabled = mode & 2;
  spill.directory = TempDir() + "/spill";
  const uint64_t capacity = uint64_t{4096} << ((mode >> 2) & 7);
  const std::string socket = TempDir() + "/store.sock";
  {
    object_store::StoreServer store(io, socket, capacity, spill);
    if (!store.Start().ok()) __builtin_trap();
    std::string stream;
    if (mode & 1) {
      rpc::StoreConnectRequest connect;
      connect.set_client_id(std::string(WorkerID::kSize, 'c'));
      stream = fuzz::Frame(rpc::FrameKind::kRequest, rpc::STORE_CONNECT, 1, 0, connect.SerializeAsString());
    }
    static const std::vector<uint16_t> kMethods = {
        rpc::STORE_CONNECT, rpc::STORE_CREATE,   rpc::STORE_SEAL,     rpc::STORE_GET,   rpc::STORE_RELEASE,
        rpc::STORE_DELETE,  rpc::STORE_ABORT,    rpc::STORE_CONTAINS, rpc::STORE_STATS};
    stream += fuzz::FramesFromInput(data + 1, size - 1, kMethods);
    int fd = fuzz::ConnectUnix(socket);
    if (fd < 0) __builtin_trap();
    fuzz::PlayStream(io, fd, stream);
    // Stop on the loop (from outside a running loop it would wait for one).
    asio::post(io, [&store] { store.Stop(); });
    io.poll();
  }
  return 0;
}
