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

/// \brief Raw bytes of a hex string (either case) into `out`; false when it
/// is not hex (odd length or another character): no id equals such a value.
inline bool BytesOfHex(const std::string& hex, std::string* out) {
  auto digit = [](char c) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  out->clear();
  if (hex.size() % 2 != 0) return false;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

/// \brief ASCII case-insensitive equality (state filters match values so).
inline bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace lumos
