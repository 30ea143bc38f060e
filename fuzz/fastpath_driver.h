#pragma once
// Shared by the fastpath handler harnesses (store_handlers_fuzzer.cc,
// raylet_handlers_fuzzer.cc): turns fuzz bytes into the byte stream a client
// sends, and plays it into a real server over a real socket, so every frame
// goes through the same Connection -> FrameDecoder -> server OnFrame dispatch
// as in production. The server's io_context runs on the calling thread.
//
// Input layout (after the harness's own mode byte):
//   records of  u8 method | u8 kind_flags | u16 payload_len (LE) | payload
//   method      < 0xF0: methods[method % methods.size()] (the service's own);
//               otherwise the raw number (unknown to every service)
//   kind_flags  kind = 1 + (b % 3); bits 2-3: frame flags (error, has-fd);
//               bit 4: reuse request id 1 instead of a fresh one
//   payload_len clamped to what is left of the input.
// A last, incomplete record is sent as the raw bytes it has (a truncated frame).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <asio.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "rpc/frame.h"

namespace lumos::fuzz {

inline std::string Frame(rpc::FrameKind kind, uint16_t method, uint64_t request_id, uint8_t flags,
                         const std::string& payload) {
  return rpc::EncodeFrame(kind, method, request_id, flags, payload);
}

/// \brief The client's byte stream for `data` (see the layout above).
inline std::string FramesFromInput(const uint8_t* data, size_t size, const std::vector<uint16_t>& methods) {
  std::string out;
  size_t i = 0;
  uint64_t next_id = 2;
  while (i + 4 <= size) {
    uint8_t sel = data[i], kf = data[i + 1];
    size_t len = data[i + 2] | (size_t{data[i + 3]} << 8);
    i += 4;
    len = std::min(len, size - i);
    uint16_t method = sel < 0xF0 ? methods[sel % methods.size()] : sel;
    auto kind = static_cast<rpc::FrameKind>(1 + kf % 3);
    uint8_t flags = (kf >> 2) & 3;
    uint64_t id = (kf & 0x10) ? 1 : next_id++;
    out += Frame(kind, method, id, flags, std::string(reinterpret_cast<const char*>(data + i), len));
    i += len;
  }
  out.append(reinterpret_cast<const char*>(data + i), size - i);
  return out;
}

/// \brief A new private directory for a harness's sockets and files: under
/// /dev/shm (tmpfs) when possible, else /tmp; "" when neither works. Every
/// input binds a socket or creates files there, which on a disk file system
/// costs inode writes (and waits on the journal when the machine is busy).
inline std::string MakeTempDir(const std::string& name) {
  for (const char* base : {"/dev/shm", "/tmp"}) {
    std::string path = std::string(base) + "/" + name + "_XXXXXX";
    if (::mkdtemp(path.data())) return path;
  }
  return "";
}

inline int ConnectUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

inline int ConnectTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
  }
  if (fd >= 0) ::close(fd);
  return -1;
}

/// \brief Writes `bytes` on the connected socket `fd`, half-closes it, and
/// runs `io` (the server's loop) until the server has closed its end: by then
/// it has handled every frame and the hang-up. Replies are read and dropped
/// (a descriptor passed with SCM_RIGHTS is closed by the kernel). Closes `fd`.
/// Traps when the server neither closes nor lets go within `timeout_ms`: a
/// server that hangs on a client's input is a bug like a crash.
inline void PlayStream(asio::io_context& io, int fd, const std::string& bytes, int64_t timeout_ms = 20000) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t sent = 0;
  bool write_open = true;
  int idle = 0;  // polls in a row that ran nothing
  char buf[64 * 1024];
  while (true) {
    if (write_open && sent < bytes.size()) {
      ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
      else if (n < 0 && errno != EAGAIN && errno != EINTR) write_open = false;  // the server hung up
    }
    if (write_open && sent == bytes.size()) {
      ::shutdown(fd, SHUT_WR);
      write_open = false;
    }
    if (io.stopped()) io.restart();
    size_t ran = io.poll();
    bool closed = false;
    while (true) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      closed = n == 0 || (n < 0 && errno != EAGAIN);
      break;
    }
    if (closed) break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "fastpath_driver: the server neither closed the connection nor finished within %lld ms\n",
                   static_cast<long long>(timeout_ms));
      __builtin_trap();
    }
    if (ran == 0 && ++idle > 50) {
      // Nothing ready on the loop for a while: wait for the server's socket or
      // a timer (a millisecond at least, so the fast path above yields first).
      if (io.stopped()) io.restart();
      io.run_one_for(std::chrono::milliseconds(1));
    } else if (ran == 0) {
      std::this_thread::yield();
    } else {
      idle = 0;
    }
  }
  ::close(fd);
  if (io.stopped()) io.restart();
  io.poll();  // what the hang-up queued (e.g. clearing the connection's handlers)
}

}  // namespace lumos::fuzz
