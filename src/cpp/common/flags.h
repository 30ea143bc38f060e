#pragma once
// Tiny "--name=value" command-line parser shared by the lumos executables.
// Unknown flags are kept so each main() can reject them with a clear message.
#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"

namespace lumos {

class Flags {
 public:
  /// \brief Parses argv; "--flag" alone means "--flag=true". Fails on bare words.
  static Result<Flags> Parse(int argc, char** argv);
  std::string GetString(const std::string& name, const std::string& def = "") const;
  int64_t GetInt(const std::string& name, int64_t def = 0) const;
  bool GetBool(const std::string& name, bool def = false) const;
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  /// \brief Fails naming the first flag not in `known` (comma separated).
  Status CheckKnown(const std::string& known) const;

 private:
  std::map<std::string, std::string> values_;
};

/// \brief Parses "CPU=2,GPU=1,custom=0.5" into a map; fails on malformed parts.
Result<std::map<std::string, double>> ParseResourceList(const std::string& s);
/// \brief Parses "key=value" lines (newline separated; values may hold any
/// other character) into a map, e.g. node labels.
Result<std::map<std::string, std::string>> ParseStringMap(const std::string& s);

}  // namespace lumos
