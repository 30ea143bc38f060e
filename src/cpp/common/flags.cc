#include "common/flags.h"

#include <cstdlib>
#include <sstream>

namespace lumos {

Result<Flags> Flags::Parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument '" + a + "'");
    a = a.substr(2);
    auto eq = a.find('=');
    if (eq == std::string::npos) {
      f.values_[a] = "true";
    } else {
      f.values_[a.substr(0, eq)] = a.substr(eq + 1);
    }
  }
  return f;
}

std::string Flags::GetString(const std::string& name, const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

int64_t Flags::GetInt(const std::string& name, int64_t def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : std::strtoll(it->second.c_str(), nullptr, 10);
}

bool Flags::GetBool(const std::string& name, bool def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  return it->second == "true" || it->second == "1";
}

Status Flags::CheckKnown(const std::string& known) const {
  std::string padded = "," + known + ",";
  for (const auto& [k, v] : values_) {
    if (padded.find("," + k + ",") == std::string::npos) {
      return Status::InvalidArgument("unknown flag --" + k + " (known: " + known + ")");
    }
  }
  return Status::OK();
}

Result<std::map<std::string, double>> ParseResourceList(const std::string& s) {
  std::map<std::string, double> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("bad resource '" + part + "', expected name=amount");
    }
    char* end = nullptr;
    std::string num = part.substr(eq + 1);
    double v = std::strtod(num.c_str(), &end);
    if (num.empty() || *end != '\0') {
      return Status::InvalidArgument("bad amount in resource '" + part + "'");
    }
    out[part.substr(0, eq)] = v;
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseStringMap(const std::string& s) {
  std::map<std::string, std::string> out;
  std::stringstream ss(s);
  std::string line;
  while (std::getline(ss, line, '\n')) {
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("bad entry '" + line + "', expected key=value");
    }
    out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

}  // namespace lumos
