#include "object_store/spill_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/logging.h"
#include "object_store/checksum.h"

namespace lumos::object_store {
namespace {

constexpr char kMagic[8] = {'L', 'U', 'M', 'O', 'S', 'S', 'P', 'L'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kChunk = 4 << 20;  // checksum and I/O granularity

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t crc;
  uint64_t data_size;
  uint64_t metadata_size;
  uint8_t id[ObjectID::kSize];
};

std::string Name(const ObjectID& id) { return "object " + id.Hex(); }

Status Errno(const std::string& what, const ObjectID& id, const std::string& path, int err) {
  return Status::IOError(what + " " + Name(id) + " (" + path + "): " + std::strerror(err));
}

// Writes all of [p, p + n) at `off`; returns errno or 0.
int PwriteAll(int fd, const uint8_t* p, uint64_t n, uint64_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, std::min<uint64_t>(n, 1 << 30), static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    p += w;
    off += static_cast<uint64_t>(w);
    n -= static_cast<uint64_t>(w);
  }
  return 0;
}

// Reads up to n bytes at `off`; returns the count read (short at end of file) or -errno.
int64_t PreadAll(int fd, uint8_t* p, uint64_t n, uint64_t off) {
  uint64_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, p + done, std::min<uint64_t>(n - done, 1 << 30), static_cast<off_t>(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) break;
    done += static_cast<uint64_t>(r);
  }
  return static_cast<int64_t>(done);
}

// The next record of a batch file starts at a page boundary.
uint64_t RoundUpToPage(uint64_t n) { return (n + kSpillHeaderBytes - 1) / kSpillHeaderBytes * kSpillHeaderBytes; }

}  // namespace

Status WriteSpillBatch(const std::string& path, std::vector<SpillItem>* items, bool sync) {
  const ObjectID& first = items->empty() ? ObjectID() : items->front().id;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create the spill file of", first, path, errno);
  int err = 0;
  const ObjectID* failed = &first;
  uint64_t record = 0;  // where the next record's header goes
  std::vector<uint8_t> block(kSpillHeaderBytes, 0);
  for (SpillItem& item : *items) {
    if (err != 0) break;
    failed = &item.id;
    const uint64_t size = item.data_size + item.metadata_size;
    const uint64_t payload = record + kSpillHeaderBytes;
    uint32_t c = 0;
    for (uint64_t off = 0; off < size && err == 0; off += kChunk) {
      uint64_t n = std::min(kChunk, size - off);
      c = Crc32c(item.bytes + off, n, c);
      err = PwriteAll(fd, item.bytes + off, n, payload + off);
    }
    if (err == 0) {
      Header h{};
      std::memcpy(h.magic, kMagic, sizeof(kMagic));
      h.version = kVersion;
      h.crc = c;
      h.data_size = item.data_size;
      h.metadata_size = item.metadata_size;
      std::memcpy(h.id, item.id.Binary().data(), ObjectID::kSize);
      std::memcpy(block.data(), &h, sizeof(h));
      err = PwriteAll(fd, block.data(), block.size(), record);
    }
    item.file_offset = payload;
    item.crc = c;
    record = RoundUpToPage(payload + size);
  }
  if (err == 0 && sync && ::fdatasync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(path.c_str());  // never leave a partial file that looks like a copy
    return Errno("cannot spill", *failed, path, err);
  }
  return Status::OK();
}

Status WriteSpillFile(const std::string& path, const ObjectID& id, const uint8_t* bytes,
                      uint64_t data_size, uint64_t metadata_size, bool sync, uint32_t* crc) {
  std::vector<SpillItem> items(1);
  items[0].id = id;
  items[0].bytes = bytes;
  items[0].data_size = data_size;
  items[0].metadata_size = metadata_size;
  LUMOS_RETURN_NOT_OK(WriteSpillBatch(path, &items, sync));
  *crc = items[0].crc;
  return Status::OK();
}

Status ReadSpillFile(const std::string& path, const ObjectID& id, uint8_t* dest,
                     uint64_t data_size, uint64_t metadata_size, uint32_t crc) {
  return ReadSpillFile(path, kSpillHeaderBytes, id, dest, data_size, metadata_size, crc);
}

Status ReadSpillFile(const std::string& path, uint64_t file_offset, const ObjectID& id, uint8_t* dest,
                     uint64_t data_size, uint64_t metadata_size, uint32_t crc) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open the spill file of", id, path, errno);
  auto fail = [&](const std::string& why) {
    ::close(fd);
    return Status::IOError("the spill file of " + Name(id) + " (" + path + ") " + why);
  };
  const uint64_t size = data_size + metadata_size;
  if (file_offset < kSpillHeaderBytes || file_offset % kSpillHeaderBytes != 0) {
    return fail("cannot hold a payload at offset " + std::to_string(file_offset));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(std::string("cannot be examined: ") + std::strerror(errno));
  if (static_cast<uint64_t>(st.st_size) < file_offset + size) {
    return fail("is truncated or damaged: " + std::to_string(st.st_size) + " bytes, too short for " +
                std::to_string(size) + " bytes at offset " + std::to_string(file_offset));
  }
  Header h{};
  int64_t r = PreadAll(fd, reinterpret_cast<uint8_t*>(&h), sizeof(h), file_offset - kSpillHeaderBytes);
  if (r < 0) return fail(std::string("cannot be read: ") + std::strerror(static_cast<int>(-r)));
  if (r != static_cast<int64_t>(sizeof(h)) || std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0 ||
      h.version != kVersion) {
    return fail("is corrupted: bad header");
  }
  if (std::memcmp(h.id, id.Binary().data(), ObjectID::kSize) != 0 || h.data_size != data_size ||
      h.metadata_size != metadata_size || h.crc != crc) {
    return fail("is corrupted: its header does not describe this object");
  }
  std::vector<uint8_t> scratch(dest ? 0 : std::min(kChunk, size));
  uint32_t c = 0;
  for (uint64_t off = 0; off < size; off += kChunk) {
    uint64_t n = std::min(kChunk, size - off);
    uint8_t* p = dest ? dest + off : scratch.data();
    r = PreadAll(fd, p, n, file_offset + off);
    if (r < 0) return fail(std::string("cannot be read: ") + std::strerror(static_cast<int>(-r)));
    if (static_cast<uint64_t>(r) != n) return fail("is truncated");
    c = Crc32c(p, n, c);
  }
  ::close(fd);
  if (c != crc) {
    return Status::IOError("the spill file of " + Name(id) + " (" + path +
                           ") is corrupted: checksum mismatch");
  }
  return Status::OK();
}

Status CreateExternalFile(const std::string& path, const ObjectID& id, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create the file of", id, path, errno);
  int err = size == 0 ? 0 : ::posix_fallocate(fd, 0, static_cast<off_t>(size));
  if (err == 0 && size == 0 && ::ftruncate(fd, 0) != 0) err = errno;
  ::close(fd);
  if (err != 0) {
    ::unlink(path.c_str());
    return Status::IOError("cannot reserve " + std::to_string(size) + " bytes on disk for " + Name(id) +
                           " (" + path + "): " + std::strerror(err));
  }
  return Status::OK();
}

void RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    LUMOS_LOG(Warning) << "cannot remove spill file " << path << ": " << std::strerror(errno);
  }
}

}  // namespace lumos::object_store
