// log_files: listing, offset reads, tails (with and without a final newline,
// bounded by max_bytes) and the refusal of names outside the logs directory.
#include "raylet/log_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

namespace lumos::raylet {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/log_files_test.XXXXXX";
  return mkdtemp(tmpl);
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

TEST(LogFilesTest, ListsRegularFilesSorted) {
  std::string dir = TempDir();
  Write(dir + "/b.out", "xy");
  Write(dir + "/a.err", "");
  Write(dir + "/.hidden", "z");
  ::mkdir((dir + "/sub").c_str(), 0700);
  std::vector<LogFile> files;
  ASSERT_TRUE(ListLogFiles(dir, &files).ok());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].name, "a.err");
  EXPECT_EQ(files[1].name, "b.out");
  EXPECT_EQ(files[1].size, 2u);
  EXPECT_FALSE(ListLogFiles(dir + "/missing", &files).ok());
}

TEST(LogFilesTest, TailAndOffset) {
  std::string dir = TempDir();
  Write(dir + "/w.out", "one\ntwo\nthree\n");
  Write(dir + "/n.out", "one\ntwo");
  LogSlice s;
  ASSERT_TRUE(ReadLogFile(dir, "w.out", 0, 2, 0, &s).ok());
  EXPECT_EQ(s.data, "two\nthree\n");
  EXPECT_EQ(s.end_offset, 14u);
  EXPECT_EQ(s.size, 14u);
  ASSERT_TRUE(ReadLogFile(dir, "w.out", 0, 10, 0, &s).ok());
  EXPECT_EQ(s.data, "one\ntwo\nthree\n");
  ASSERT_TRUE(ReadLogFile(dir, "w.out", 0, 0, 0, &s).ok());
  EXPECT_EQ(s.data, "");
  EXPECT_EQ(s.end_offset, 14u);
  ASSERT_TRUE(ReadLogFile(dir, "n.out", 0, 1, 0, &s).ok());
  EXPECT_EQ(s.data, "two");
  ASSERT_TRUE(ReadLogFile(dir, "w.out", 4, -1, 0, &s).ok());
  EXPECT_EQ(s.data, "two\nthree\n");
  ASSERT_TRUE(ReadLogFile(dir, "w.out", 4, -1, 3, &s).ok());
  EXPECT_EQ(s.data, "two");
  EXPECT_EQ(s.end_offset, 7u);
  ASSERT_TRUE(ReadLogFile(dir, "w.out", 99, -1, 0, &s).ok());
  EXPECT_EQ(s.data, "");
  // A tail bounded by max_bytes keeps the newest bytes.
  ASSERT_TRUE(ReadLogFile(dir, "w.out", 0, 100, 6, &s).ok());
  EXPECT_EQ(s.data, "three\n");
}

TEST(LogFilesTest, RefusesNamesOutsideTheDirectory) {
  std::string dir = TempDir();
  LogSlice s;
  EXPECT_EQ(ReadLogFile(dir, "../etc/passwd", 0, 1, 0, &s).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadLogFile(dir, ".secret", 0, 1, 0, &s).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadLogFile(dir, "", 0, 1, 0, &s).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadLogFile(dir, "missing.out", 0, 1, 0, &s).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace lumos::raylet
