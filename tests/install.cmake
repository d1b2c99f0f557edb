# install.consumer: installs this build into a scratch prefix and builds
# tiny programs against it twice, once through find_package(fray COMPONENTS
# event) and once through fray.pc / fray-event.pc, then runs them (the event
# one echoes over loopback). It catches install rules that miss a
# header, export a wrong include path, or write a .pc that does not work.
# The driver script and the consumer live in tests/install/ (not matched by
# the tests/*.cmake glob that includes this fragment).
set(_fray_install_san "")
if(FRAY_SANITIZE)
  # A sanitized libfray needs a sanitized consumer, or the runtime is missing
  # at link time (clang) or loaded too late (gcc).
  list(JOIN FRAY_SANITIZE "," _fray_install_san_list)
  set(_fray_install_san "-fsanitize=${_fray_install_san_list} -fno-omit-frame-pointer")
endif()
set(_fray_install_event OFF)
if(TARGET fray_event)
  set(_fray_install_event ON)
endif()
add_test(NAME install.consumer
  COMMAND ${CMAKE_COMMAND}
    -DFRAY_BINARY_DIR=${PROJECT_BINARY_DIR}
    -DFRAY_VERSION=${PROJECT_VERSION}
    -DFRAY_LIBDIR=${CMAKE_INSTALL_LIBDIR}
    -DFRAY_INCLUDEDIR=${CMAKE_INSTALL_INCLUDEDIR}
    -DCONSUMER_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/install/consumer
    -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install-test
    -DC_COMPILER=${CMAKE_C_COMPILER}
    -DSAN_FLAGS=${_fray_install_san}
    -DPKG_CONFIG=${PKG_CONFIG_EXECUTABLE}
    -DWITH_EVENT=${_fray_install_event}
    -P ${CMAKE_CURRENT_SOURCE_DIR}/install/run.cmake)
# Configuring and building the consumer twice takes a few seconds; the
# timeout leaves room for a loaded 2-core machine.
set_tests_properties(install.consumer PROPERTIES TIMEOUT 300 LABELS install)
