# Driver of the install.consumer test (cmake -P; see tests/install.cmake for
# the variables it is given). Each step stops the test with a message naming
# what went wrong; the scratch directory is left behind for a look.
cmake_minimum_required(VERSION 3.20)

foreach(v FRAY_BINARY_DIR FRAY_VERSION FRAY_LIBDIR FRAY_INCLUDEDIR CONSUMER_SOURCE_DIR
          WORK_DIR C_COMPILER PKG_CONFIG WITH_EVENT)
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
set(want ${FRAY_INCLUDEDIR}/fray/fray.h ${FRAY_INCLUDEDIR}/fray/common.h
         ${FRAY_INCLUDEDIR}/fray/framer.h ${FRAY_INCLUDEDIR}/fray/version.h
         ${FRAY_LIBDIR}/libfray.so ${FRAY_LIBDIR}/libfray.a
         ${FRAY_LIBDIR}/cmake/fray/frayConfig.cmake
         ${FRAY_LIBDIR}/cmake/fray/frayConfigVersion.cmake
         ${FRAY_LIBDIR}/pkgconfig/fray.pc)
if(WITH_EVENT)
  list(APPEND want ${FRAY_INCLUDEDIR}/fray/event.h ${FRAY_LIBDIR}/libfray_event.a
       ${FRAY_LIBDIR}/cmake/fray/frayEventTargets.cmake ${FRAY_LIBDIR}/pkgconfig/fray-event.pc)
endif()
foreach(f ${want})
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

# 2b. No libdl for libfray's users: only the fray command dlopen()s. Neither
# the shared library's DT_NEEDED nor the exported targets may name it.
find_program(READELF readelf)
if(READELF)
  run("readelf -d libfray.so" ${READELF} -d ${libdir}/libfray.so)
  if(run_output MATCHES "NEEDED[^\n]*libdl")
    message(FATAL_ERROR "install test: libfray.so needs libdl:\n${run_output}")
  endif()
endif()
file(GLOB exported ${libdir}/cmake/fray/*Targets*.cmake)
foreach(f ${exported})
  file(STRINGS ${f} links REGEX "INTERFACE_LINK_LIBRARIES")
  if(links MATCHES "[\";]dl[\";]|-ldl|CMAKE_DL_LIBS")
    message(FATAL_ERROR "install test: ${f} makes consumers link libdl: ${links}")
  endif()
endforeach()
message(STATUS "no libdl: ok")

# 3. find_package(fray) consumer, against the shared and the static library.
set(cbuild ${WORK_DIR}/cmake-consumer)
set(components "")
if(WITH_EVENT)
  set(components event)
endif()
run("configure find_package consumer" ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${cbuild}
    -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_BUILD_TYPE=Debug
    -DCMAKE_C_FLAGS=${SAN_FLAGS} -DCMAKE_EXE_LINKER_FLAGS=${SAN_FLAGS}
    -DCMAKE_PREFIX_PATH=${prefix} -DFRAY_EXPECTED_VERSION=${FRAY_VERSION}
    -DFRAY_EXPECTED_PREFIX=${prefix} -DFRAY_COMPONENTS=${components})
run("build find_package consumer" ${CMAKE_COMMAND} --build ${cbuild})
run("run find_package consumer (fray::fray)" ${cbuild}/consumer_shared)
message(STATUS "  ${run_output}")
run("run find_package consumer (fray::fray_static)" ${cbuild}/consumer_static)
if(WITH_EVENT)
  run("run find_package consumer (fray::event)" ${cbuild}/consumer_event)
  message(STATUS "  ${run_output}")
endif()

# 3b. A component fray does not have, or did not build, fails find_package
# saying which and why.
function(expect_find_failure components why)
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/bad-consumer
      -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_PREFIX_PATH=${prefix}
      -DFRAY_EXPECTED_VERSION=${FRAY_VERSION} "-DFRAY_COMPONENTS=${components}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  file(REMOVE_RECURSE ${WORK_DIR}/bad-consumer)
  if(rc EQUAL 0 OR NOT out MATCHES "${why}")
    message("${out}")
    message(FATAL_ERROR "install test: find_package(fray COMPONENTS ${components}) did not "
                        "fail with '${why}' (exit ${rc})")
  endif()
  message(STATUS "find_package(fray COMPONENTS ${components}): fails cleanly")
endfunction()
set(with_bogus ${components} bogus)
expect_find_failure("${with_bogus}" "unknown component 'bogus'")
if(NOT WITH_EVENT)
  expect_find_failure("event" "component 'event' was not built")
endif()

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

# 5. fray-event.pc: Requires fray and libevent_core, so one pkg-config call
# gives the whole link line. This consumer runs without LD_LIBRARY_PATH, on
# the rpath the README tells pkg-config users to add.
unset(ENV{LD_LIBRARY_PATH})
if(WITH_EVENT)
  run("pkg-config --variable=libdir fray" ${PKG_CONFIG} --variable=libdir fray)
  string(STRIP "${run_output}" pc_libdir)
  run("pkg-config fray-event" ${PKG_CONFIG} --cflags --libs fray-event)
  string(STRIP "${run_output}" pc_event)
  message(STATUS "fray-event.pc: '${pc_event}'")
  if(NOT pc_event MATCHES "-lfray_event" OR NOT pc_event MATCHES "-lfray( |$)"
     OR NOT pc_event MATCHES "-levent_core")
    message(FATAL_ERROR "install test: fray-event.pc gives '${pc_event}'")
  endif()
  separate_arguments(pc_event UNIX_COMMAND "${pc_event}")
  run("compile pkg-config event consumer" ${C_COMPILER} -std=c11 -Wall -Wextra -Werror
      -pedantic-errors ${san} ${CONSUMER_SOURCE_DIR}/consumer_event.c -o ${WORK_DIR}/consumer_event_pc
      ${pc_event} -Wl,-rpath,${pc_libdir})
  run("run pkg-config event consumer (rpath)" ${WORK_DIR}/consumer_event_pc)
endif()
message(STATUS "install test: all steps passed")
