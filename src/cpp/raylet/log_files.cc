#include "raylet/log_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace lumos {
namespace raylet {

namespace {

constexpr uint64_t kDefaultBytes = 1 << 20;
constexpr uint64_t kMaxBytes = 8 << 20;
constexpr uint64_t kTailChunk = 64 << 10;

bool SafeName(const std::string& name) {
  return !name.empty() && name[0] != '.' && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// Reads [offset, offset + n) of fd into *out (short at the end of file).
Status ReadAt(int fd, uint64_t offset, uint64_t n, std::string* out) {
  out->resize(n);
  uint64_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, &(*out)[got], n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::IOError(std::string("read failed: ") + strerror(errno));
    if (r == 0) break;
    got += static_cast<uint64_t>(r);
  }
  out->resize(got);
  return Status::OK();
}

}  // namespace

Status ListLogFiles(const std::string& dir, std::vector<LogFile>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::IOError("cannot list " + dir + ": " + strerror(errno));
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!SafeName(name)) continue;
    struct stat st {};
    if (::stat((dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out->push_back(LogFile{name, static_cast<uint64_t>(st.st_size), static_cast<int64_t>(st.st_mtime)});
  }
  ::closedir(d);
  std::sort(out->begin(), out->end(), [](const LogFile& a, const LogFile& b) { return a.name < b.name; });
  return Status::OK();
}

Status ReadLogFile(const std::string& dir, const std::string& name, uint64_t offset, int64_t tail_lines,
                   uint64_t max_bytes, LogSlice* out) {
  if (!SafeName(name)) {
    return Status::InvalidArgument("log file name '" + name + "' must be a plain file name in the logs directory");
  }
  if (max_bytes == 0) max_bytes = kDefaultBytes;
  max_bytes = std::min(max_bytes, kMaxBytes);
  int fd = ::open((dir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no log file '" + name + "' in " + dir);
    return Status::IOError("cannot open " + dir + "/" + name + ": " + strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("'" + name + "' is not a regular file");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  out->size = size;
  Status s;
  if (tail_lines < 0) {
    uint64_t start = std::min(offset, size);
    s = ReadAt(fd, start, std::min(max_bytes, size - start), &out->data);
    out->end_offset = start + out->data.size();
  } else {
    // Walk back in chunks until tail_lines newlines (not counting the one
    // that ends the file) are seen or max_bytes is reached.
    uint64_t start = size;
    int64_t newlines = 0;
    std::string chunk;
    bool found = false;
    while (start > 0 && size - start < max_bytes && !found && tail_lines > 0) {
      uint64_t n = std::min({kTailChunk, start, max_bytes - (size - start)});
      s = ReadAt(fd, start - n, n, &chunk);
      if (!s.ok()) break;
      for (uint64_t i = chunk.size(); i-- > 0;) {
        if (chunk[i] != '\n' || start - n + i == size - 1) continue;
        if (++newlines == tail_lines) {
          start = start - n + i + 1;
          found = true;
          break;
        }
      }
      if (!found) start -= n;
    }
    if (tail_lines == 0) start = size;
    if (s.ok()) s = ReadAt(fd, start, size - start, &out->data);
    out->end_offset = start + out->data.size();
  }
  ::close(fd);
  return s;
}

}  // namespace raylet
}  // namespace lumos
