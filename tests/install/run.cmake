# Driver of the install.consumer test (cmake -P; see tests/install.cmake for
# the variables it is given). Each step stops the test with a message naming
# what went wrong; the scratch directory is left behind for a look.
cmake_minimum_required(VERSION 3.20)

foreach(v FRAY_BINARY_DIR FRAY_VERSION FRAY_LIBDIR FRAY_INCLUDEDIR CONSUMER_SOURCE_DIR
          WORK_DIR C_COMPILER PKG_CONFIG)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "install test: ${v} not given")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(libdir ${prefix}/${FRAY_LIBDIR})
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
# The consumers must find this prefix only, never a library or .pc that
# happens to be installed on the machine or named by the caller's environment.
unset(ENV{LD_LIBRARY_PATH})
unset(ENV{PKG_CONFIG_PATH})
unset(ENV{CMAKE_PREFIX_PATH})

# run(STEP cmd...): runs a command, prints its output, fails the test when it
# exits non-zero.
function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message("${out}")
    message(FATAL_ERROR "install test: ${step} failed (${rc}): ${ARGN}")
  endif()
  message(STATUS "${step}: ok")
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

# 1. Install this build into the scratch prefix.
run("cmake --install" ${CMAKE_COMMAND} --install ${FRAY_BINARY_DIR} --prefix ${prefix})

# 2. The layout: public headers under include/fray only, never an internal one.
foreach(f ${FRAY_INCLUDEDIR}/fray/fray.h ${FRAY_INCLUDEDIR}/fray/common.h
          ${FRAY_INCLUDEDIR}/fray/framer.h ${FRAY_LIBDIR}/libfray.so ${FRAY_LIBDIR}/libfray.a
          ${FRAY_LIBDIR}/cmake/fray/frayConfig.cmake
          ${FRAY_LIBDIR}/cmake/fray/frayConfigVersion.cmake
          ${FRAY_LIBDIR}/pkgconfig/fray.pc)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "install test: ${f} is not installed")
  endif()
endforeach()
file(GLOB_RECURSE headers RELATIVE ${prefix}/${FRAY_INCLUDEDIR} ${prefix}/${FRAY_INCLUDEDIR}/*)
foreach(h ${headers})
  if(NOT h MATCHES "^fray/[a-z0-9_]+\\.h$" OR h MATCHES "internal")
    message(FATAL_ERROR "install test: unexpected installed header ${FRAY_INCLUDEDIR}/${h} "
                        "(only the public fray/*.h belong there)")
  endif()
endforeach()
message(STATUS "layout: ok (${headers})")

# 3. find_package(fray) consumer, against the shared and the static library.
set(cbuild ${WORK_DIR}/cmake-consumer)
run("configure find_package consumer" ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${cbuild}
    -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_BUILD_TYPE=Debug
    -DCMAKE_C_FLAGS=${SAN_FLAGS} -DCMAKE_EXE_LINKER_FLAGS=${SAN_FLAGS}
    -DCMAKE_PREFIX_PATH=${prefix} -DFRAY_EXPECTED_VERSION=${FRAY_VERSION}
    -DFRAY_EXPECTED_PREFIX=${prefix})
run("build find_package consumer" ${CMAKE_COMMAND} --build ${cbuild})
run("run find_package consumer (fray::fray)" ${cbuild}/consumer_shared)
message(STATUS "  ${run_output}")
run("run find_package consumer (fray::fray_static)" ${cbuild}/consumer_static)

# 4. pkg-config consumer: a plain compiler call with what fray.pc says, as a
# Makefile would do it. Run it with LD_LIBRARY_PATH, as a user of a
# non-system prefix would.
set(ENV{PKG_CONFIG_PATH} ${libdir}/pkgconfig)
run("pkg-config --modversion fray" ${PKG_CONFIG} --modversion fray)
string(STRIP "${run_output}" pc_version)
if(NOT pc_version STREQUAL FRAY_VERSION)
  message(FATAL_ERROR "install test: fray.pc says version ${pc_version}, expected ${FRAY_VERSION}")
endif()
run("pkg-config --cflags fray" ${PKG_CONFIG} --cflags fray)
string(STRIP "${run_output}" pc_cflags)
run("pkg-config --libs fray" ${PKG_CONFIG} --libs fray)
string(STRIP "${run_output}" pc_libs)
message(STATUS "fray.pc: cflags '${pc_cflags}', libs '${pc_libs}'")
separate_arguments(pc_cflags UNIX_COMMAND "${pc_cflags}")
separate_arguments(pc_libs UNIX_COMMAND "${pc_libs}")
separate_arguments(san UNIX_COMMAND "${SAN_FLAGS}")
run("compile pkg-config consumer" ${C_COMPILER} -std=c11 -Wall -Wextra -Werror -pedantic-errors
    ${san} ${pc_cflags} "-DEXPECTED_VERSION=\"${FRAY_VERSION}\""
    ${CONSUMER_SOURCE_DIR}/consumer.c -o ${WORK_DIR}/consumer_pc ${pc_libs})
set(ENV{LD_LIBRARY_PATH} ${libdir})
run("run pkg-config consumer" ${WORK_DIR}/consumer_pc)
message(STATUS "install test: all steps passed")
