# The Python extension gannet._gannet (nanobind), linking the same static libraries as
# the `gannet` binary. Included from the top-level CMakeLists.txt unless GANNET_PYTHON is
# OFF. With AUTO it is skipped (with a message) when nanobind or the Python headers are
# missing, or under a sanitizer.
#
# Result: <build>/python/gannet/_gannet*.so next to symlinks to python/gannet/*.py, so
# PYTHONPATH=<build>/python imports the package. Under scikit-build-core (SKBUILD, the
# `pip install ./python` path) the module is installed into the wheel's gannet/.
set(_gannet_py_required OFF)
if(GANNET_PYTHON STREQUAL "ON")
  set(_gannet_py_required ON)
endif()
if(NOT _gannet_py_required AND (GANNET_SANITIZE OR GANNET_SANITIZE_THREAD OR GANNET_FUZZ))
  message(STATUS "Python extension: skipped under sanitizers")
  return()
endif()

if(SKBUILD)
  # scikit-build-core names the interpreter it builds for.
  find_package(Python 3.9 REQUIRED COMPONENTS Interpreter Development.Module)
else()
  find_package(Python 3.9 COMPONENTS Interpreter Development.Module)
endif()
if(Python_FOUND AND NOT nanobind_DIR)
  execute_process(COMMAND ${Python_EXECUTABLE} -m nanobind --cmake_dir
                  OUTPUT_VARIABLE _nb_dir OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _nb_rc ERROR_QUIET)
  if(_nb_rc EQUAL 0 AND EXISTS "${_nb_dir}")
    set(nanobind_DIR "${_nb_dir}")
  endif()
endif()
if(Python_FOUND AND nanobind_DIR)
  find_package(nanobind CONFIG QUIET)
endif()
if(NOT nanobind_FOUND)
  if(_gannet_py_required OR SKBUILD)
    message(FATAL_ERROR "GANNET_PYTHON=ON but nanobind (pip install nanobind) or the Python "
                        "development headers were not found")
  endif()
  message(STATUS "Python extension: skipped (python3 -c 'import nanobind' fails)")
  return()
endif()
message(STATUS "Python extension: gannet._gannet for ${Python_EXECUTABLE} (nanobind ${nanobind_VERSION})")

nanobind_add_module(_gannet NB_STATIC ${CMAKE_SOURCE_DIR}/src/python/module.cpp)
target_link_libraries(_gannet PRIVATE gannet nlohmann_json::nlohmann_json)
# nanobind's own sources are not held to -Werror.
if(TARGET nanobind-static)
  target_compile_options(nanobind-static PRIVATE -Wno-error)
endif()

if(SKBUILD)
  install(TARGETS _gannet LIBRARY DESTINATION gannet)
else()
  set(_gannet_pkg ${CMAKE_BINARY_DIR}/python/gannet)
  set_target_properties(_gannet PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${_gannet_pkg})
  file(MAKE_DIRECTORY ${_gannet_pkg})
  file(GLOB _gannet_py_files CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/python/gannet/*.py
       ${CMAKE_SOURCE_DIR}/python/gannet/*.pyi
       ${CMAKE_SOURCE_DIR}/python/gannet/py.typed)
  foreach(f ${_gannet_py_files})
    get_filename_component(fname ${f} NAME)
    file(CREATE_LINK ${f} ${_gannet_pkg}/${fname} SYMBOLIC)
  endforeach()
endif()
