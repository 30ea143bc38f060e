#include "common/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>

#include "common/logging.h"

namespace lumos {

Config& Config::Get() {
  static Config config;
  return config;
}

Config::Config() {
#define LUMOS_CONFIG_ENV(type, name, def, doc)                                       \
  {                                                                                 \
    std::string env = "LUMOS_" #name;                                               \
    std::transform(env.begin(), env.end(), env.begin(), ::toupper);                 \
    if (const char* v = std::getenv(env.c_str())) {                                 \
      if (!Set(#name, v)) { LUMOS_LOG(Warning) << "ignoring bad value " << env << "=" << v; } \
    }                                                                               \
  }
  LUMOS_CONFIG_TABLE(LUMOS_CONFIG_ENV)
#undef LUMOS_CONFIG_ENV
}

bool Config::Set(const std::string& name, const std::string& value) {
  char* end = nullptr;
  long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0') return false;
#define LUMOS_CONFIG_SET(type, n, def, doc) \
  if (name == #n) {                         \
    n##_ = static_cast<type>(v);            \
    return true;                            \
  }
  LUMOS_CONFIG_TABLE(LUMOS_CONFIG_SET)
#undef LUMOS_CONFIG_SET
  return false;
}

std::string Config::Dump() const {
  std::ostringstream os;
#define LUMOS_CONFIG_DUMP(type, name, def, doc) os << #name << "=" << name##_ << "\n";
  LUMOS_CONFIG_TABLE(LUMOS_CONFIG_DUMP)
#undef LUMOS_CONFIG_DUMP
  return os.str();
}

}  // namespace lumos
