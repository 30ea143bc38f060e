#pragma once
// Small string helpers shared by the GCS's state queries and the task event
// buffer (one place for each rule: how ids are shown, how filters compare).
#include <algorithm>
#include <cctype>
#include <string>

namespace lumos {

/// \brief Lower-case hex of raw bytes (ids as the state API shows them).
inline std::string HexOfBytes(const std::string& bin) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bin.size() * 2);
  for (unsigned char c : bin) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

/// \brief ASCII case-insensitive equality (state filters match values so).
inline bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace lumos
