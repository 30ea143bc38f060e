#pragma once
// Spill files: one object's bytes on disk, checksummed, and the file-backed
// storage of objects too big for the arena ("external" objects).
//
// Spill file layout: one record per object: a kSpillHeaderBytes header
// (magic, format version, the object id, data and metadata sizes, CRC-32C of
// the payload), then the payload (data followed by metadata) at a page
// boundary, so a client can mmap the payload of a spill file directly. A file
// of one object has its payload at kSpillHeaderBytes; a batch file (several
// small objects) has the records one after the other, each starting at a page
// boundary; each object is found by its payload's file offset.
// External files hold the payload at offset 0 and nothing else (they are the
// live copy, written in place by the creator like arena memory; no checksum).
//
// Files are fdatasynced only when asked (SpillOptions::fsync): spilling
// relieves memory pressure for the life of the session, it is not durability
// (a crashed raylet loses its objects anyway).
// What may fail: writes return IOError naming the object and errno's text
// (ENOSPC, EFBIG for an RLIMIT_FSIZE, EACCES...) and leave no file behind;
// reads return IOError naming the object for a missing, truncated or
// corrupted (bad header or checksum mismatch) file, and never fill the
// destination with unchecked bytes without saying so.
// Thread safety: free functions, no shared state (the store calls them from
// its I/O threads).
#include <cstdint>
#include <string>
#include <vector>

#include "common/id.h"
#include "common/status.h"

namespace lumos::object_store {

constexpr uint64_t kSpillHeaderBytes = 4096;

/// \brief Writes `size` bytes at `bytes` (data_size of data, then metadata) to
/// a new spill file at `path`; *crc gets the payload's CRC-32C. With `sync`
/// the file is fdatasynced before this returns (a failing sync fails the write).
Status WriteSpillFile(const std::string& path, const ObjectID& id, const uint8_t* bytes,
                      uint64_t data_size, uint64_t metadata_size, bool sync, uint32_t* crc);
/// One object of a batch: what to write, and (filled in by WriteSpillBatch)
/// where its payload landed and its checksum.
struct SpillItem {
  ObjectID id;
  const uint8_t* bytes = nullptr;
  uint64_t data_size = 0;
  uint64_t metadata_size = 0;
  uint64_t file_offset = 0;  // out
  uint32_t crc = 0;          // out
};
/// \brief Writes the items' records to a new file at `path` (the first
/// payload at kSpillHeaderBytes). On failure no file is left.
Status WriteSpillBatch(const std::string& path, std::vector<SpillItem>* items, bool sync);
/// \brief Reads the payload at `file_offset` of the spill file at `path` into
/// `dest` (or only checks it when dest is null) and verifies its header and
/// checksum against the expected id, sizes and crc.
Status ReadSpillFile(const std::string& path, uint64_t file_offset, const ObjectID& id, uint8_t* dest,
                     uint64_t data_size, uint64_t metadata_size, uint32_t crc);
/// \brief ReadSpillFile of a one-object file (payload at kSpillHeaderBytes).
Status ReadSpillFile(const std::string& path, const ObjectID& id, uint8_t* dest,
                     uint64_t data_size, uint64_t metadata_size, uint32_t crc);
/// \brief Creates the file of an external object with `size` bytes reserved on
/// disk (posix_fallocate, so a full disk fails here, not as SIGBUS later).
Status CreateExternalFile(const std::string& path, const ObjectID& id, uint64_t size);
/// \brief Unlinks `path`; a missing file is fine, other errors are logged.
void RemoveFile(const std::string& path);

}  // namespace lumos::object_store
