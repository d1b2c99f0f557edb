# cli.version: `fray --version` prints the version of project(VERSION), which
# reaches the binary only through the generated fray/version.h.
if(NOT TARGET fray_cli)
  return()
endif()
string(REPLACE "." "\\." _fray_version_re "${PROJECT_VERSION}")
add_test(NAME cli.version COMMAND fray_cli --version)
set_tests_properties(cli.version PROPERTIES
  PASS_REGULAR_EXPRESSION "^fray ${_fray_version_re}\n$" TIMEOUT 10 LABELS cli)
