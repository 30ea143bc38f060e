# Finds every external dependency. No code is vendored: the libraries come from
# Debian (scripts/install_deps.sh) and the Python build tools from pip.
find_package(Threads REQUIRED)
# Debian ships no protobuf CMake config: FindProtobuf first, then gRPC's config.
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
get_target_property(GRPC_CPP_PLUGIN gRPC::grpc_cpp_plugin LOCATION)
# asio (standalone, header-only) from libasio-dev.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(lumos_asio INTERFACE)
target_include_directories(lumos_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(lumos_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
if(LUMOS_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  include(GoogleTest)
endif()
if(LUMOS_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG REQUIRED)
endif()
