# pybind11 module lumos._accelerators (included after src/pyx/pyx.cmake found Python).
execute_process(COMMAND ${Python_EXECUTABLE} -m pybind11 --cmakedir
                OUTPUT_VARIABLE LUMOS_PYBIND11_DIR OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
set(PYBIND11_FINDPYTHON ON)
find_package(pybind11 CONFIG REQUIRED HINTS ${LUMOS_PYBIND11_DIR})
pybind11_add_module(_accelerators ${LUMOS_SRC}/accelerators/python_module.cc)
target_link_libraries(_accelerators PRIVATE lumos_accelerators)
install(TARGETS _accelerators LIBRARY DESTINATION lumos)
