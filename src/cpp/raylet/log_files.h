#pragma once
// The node's log files for tooling (`lumos logs`, list_logs/get_log): a
// listing of the logs directory and bounded slices of one file.
//
// Pure functions over the file system, no state; called on the raylet's
// event loop (a slice is at most 8 MiB, so a read is short). Names are plain
// file names inside `dir`: anything with a '/' or starting with '.' is
// refused, so a caller can never read outside the logs directory.
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace lumos {
namespace raylet {

struct LogFile {
  std::string name;
  uint64_t size = 0;
  int64_t mtime_s = 0;
};

/// \brief Every regular file directly in `dir`, sorted by name.
/// An unreadable directory is an IOError naming it.
Status ListLogFiles(const std::string& dir, std::vector<LogFile>* out);

struct LogSlice {
  std::string data;
  uint64_t end_offset = 0;  // just past data
  uint64_t size = 0;        // the file's size when read
};

/// \brief With tail_lines >= 0: the last tail_lines lines of dir/name (at
/// most max_bytes, the newest kept); otherwise the bytes from `offset` on
/// (at most max_bytes). max_bytes 0 means 1 MiB; more than 8 MiB is capped.
/// A bad name is InvalidArgument, a missing file NotFound.
Status ReadLogFile(const std::string& dir, const std::string& name, uint64_t offset, int64_t tail_lines,
                   uint64_t max_bytes, LogSlice* out);

}  // namespace raylet
}  // namespace lumos
