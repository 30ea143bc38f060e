# Cython extension lumos._raylet and the grpcio stubs for Python tools.
find_package(Python 3.10 REQUIRED COMPONENTS Interpreter Development.Module)
set(PYX_DIR ${CMAKE_CURRENT_SOURCE_DIR}/src/pyx)
file(GLOB PYX_DEPS ${PYX_DIR}/*.pxi ${PYX_DIR}/includes/*.pxd ${PYX_DIR}/*.h)
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/_raylet.cpp
  COMMAND ${Python_EXECUTABLE} -m cython --cplus -3 -X embedsignature=True
          -I ${PYX_DIR} ${PYX_DIR}/_raylet.pyx -o ${CMAKE_CURRENT_BINARY_DIR}/_raylet.cpp
  DEPENDS ${PYX_DIR}/_raylet.pyx ${PYX_DEPS}
  VERBATIM)
python_add_library(_raylet MODULE ${CMAKE_CURRENT_BINARY_DIR}/_raylet.cpp WITH_SOABI)
target_include_directories(_raylet PRIVATE ${PYX_DIR})
target_link_libraries(_raylet PRIVATE lumos_core_worker)
target_compile_options(_raylet PRIVATE -Wno-unused-function -Wno-deprecated-declarations)
set_target_properties(_raylet PROPERTIES INSTALL_RPATH "$ORIGIN")
install(TARGETS _raylet LIBRARY DESTINATION lumos)

# grpcio stubs (build time only: never import grpc_tools at run time).
set(PY_PROTO_OUT ${CMAKE_CURRENT_BINARY_DIR}/py_proto/lumos/_proto)
set(PY_PROTO_FILES)
foreach(p ${LUMOS_PROTOS})
  list(APPEND PY_PROTO_FILES ${PY_PROTO_OUT}/${p}_pb2.py)
endforeach()
list(APPEND PY_PROTO_FILES ${PY_PROTO_OUT}/gcs_service_pb2_grpc.py)
add_custom_command(
  OUTPUT ${PY_PROTO_FILES}
  COMMAND ${Python_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/scripts/gen_py_protos.py ${PROTO_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/py_proto ${LUMOS_PROTOS}
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/scripts/gen_py_protos.py ${PROTO_DIR}/common.proto
          ${PROTO_DIR}/gcs_service.proto ${PROTO_DIR}/node_manager.proto
          ${PROTO_DIR}/core_worker.proto ${PROTO_DIR}/object_manager.proto
  VERBATIM)
add_custom_target(lumos_py_proto ALL DEPENDS ${PY_PROTO_FILES})
install(DIRECTORY ${PY_PROTO_OUT}/ DESTINATION lumos/_proto)
