# Generates C++ (protobuf + gRPC) code from protos/ into ONE shared library,
# lumos_proto, linked by every binary and extension (two static copies of the
# generated descriptors in one process abort at import).
set(LUMOS_PROTOS common node_manager core_worker object_manager gcs_service)
set(PROTO_GEN ${CMAKE_CURRENT_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${PROTO_GEN})
set(PROTO_SRCS)
foreach(p ${LUMOS_PROTOS})
  set(outs ${PROTO_GEN}/${p}.pb.cc ${PROTO_GEN}/${p}.pb.h)
  set(grpc_args)
  if(p STREQUAL "gcs_service")
    list(APPEND outs ${PROTO_GEN}/${p}.grpc.pb.cc ${PROTO_GEN}/${p}.grpc.pb.h)
    set(grpc_args --grpc_out=${PROTO_GEN} --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
  endif()
  add_custom_command(
    OUTPUT ${outs}
    COMMAND protobuf::protoc --proto_path=${PROTO_DIR} --cpp_out=${PROTO_GEN} ${grpc_args}
            ${PROTO_DIR}/${p}.proto
    DEPENDS ${PROTO_DIR}/${p}.proto protobuf::protoc gRPC::grpc_cpp_plugin
    VERBATIM)
  list(APPEND PROTO_SRCS ${outs})
endforeach()
add_library(lumos_proto SHARED ${PROTO_SRCS})
target_include_directories(lumos_proto PUBLIC ${PROTO_GEN})
target_link_libraries(lumos_proto PUBLIC gRPC::grpc++ protobuf::libprotobuf)
set_target_properties(lumos_proto PROPERTIES INSTALL_RPATH "$ORIGIN")
install(TARGETS lumos_proto LIBRARY DESTINATION lumos)
