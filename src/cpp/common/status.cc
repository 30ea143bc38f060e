#include "common/status.h"

namespace lumos {

std::string Status::ToString() const {
  static const char* kNames[] = {"OK",          "InvalidArgument", "TypeError",    "NotFound",
                                 "AlreadyExists", "TimedOut",      "IOError",      "OutOfMemory",
                                 "Disconnected", "Invalid",        "NotImplemented", "WorkerDied",
                                 "ObjectLost",  "Interrupted",     "PythonError",  "Unknown",
                                 "NotInitialized", "Unauthenticated"};
  int c = code_int();
  std::string name = (c >= 0 && c < static_cast<int>(sizeof(kNames) / sizeof(kNames[0])))
                         ? kNames[c] : "Code" + std::to_string(c);
  return ok() ? name : name + ": " + msg_;
}

}  // namespace lumos
