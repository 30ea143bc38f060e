// Replays fuzz inputs without libFuzzer: every regular file in the
// directories (or files) named on the command line goes once through the
// harness's LLVMFuzzerTestOneInput, in name order. Built with the normal
// compiler so that `make test` checks the corpus and the regressions of every
// harness even where clang is missing (fuzz/CMakeLists.txt). A crash or an
// abort in the harness fails the test, and so does an empty first directory
// (the corpus): a replay of nothing would pass whatever the harness does. The
// others may be missing (a harness may have no regressions yet).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {
void Collect(const std::string& path, std::vector<std::string>* out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  if (S_ISREG(st.st_mode)) {
    out->push_back(path);
    return;
  }
  if (!S_ISDIR(st.st_mode)) return;
  DIR* d = ::opendir(path.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(path + "/" + n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) Collect(n, out);
}
}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<std::string> files;
  for (int i = 1; i < argc; i++) Collect(argv[i], &files);
  if (argc < 2 || files.empty()) {
    std::fprintf(stderr, "no inputs to replay: the corpus directory %s is missing or empty\n",
                 argc < 2 ? "(none given)" : argv[1]);
    return 1;
  }
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("replayed %zu inputs\n", files.size());
  return 0;
}
