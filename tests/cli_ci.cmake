# fray ci init (harness/cli/ci.c):
#   unit.cli_zipw   the zip writer its seed corpora are written with;
#   cli.ci.init     on a copy of tests/ossfuzz/userproj/, consuming this
#                   build installed: the files, the listing, the refusal to
#                   overwrite, --force writing the same bytes (every build);
#   ossfuzz.ci.*    the same, then the generated build.sh under the simulated
#                   OSS-Fuzz builder (tests/ossfuzz.cmake's conditions).
if(NOT TARGET fray_cli)
  return()
endif()
add_executable(test_cli_zipw ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_zipw.c
                             ${PROJECT_SOURCE_DIR}/harness/cli/zipw.c)
target_include_directories(test_cli_zipw PRIVATE ${PROJECT_SOURCE_DIR}/harness/cli)
target_compile_options(test_cli_zipw PRIVATE ${FRAY_WARNINGS})
target_link_libraries(test_cli_zipw PRIVATE fray_internal PkgConfig::CMOCKA)
add_test(NAME unit.cli_zipw COMMAND test_cli_zipw)
set_tests_properties(unit.cli_zipw PROPERTIES TIMEOUT 60 LABELS unit)

set(_ci_sh ${CMAKE_CURRENT_SOURCE_DIR}/ossfuzz/userproj.sh)
add_test(NAME cli.ci.init COMMAND bash ${_ci_sh} ${PROJECT_BINARY_DIR} ${PROJECT_BINARY_DIR}/ci-init
                                  none none)
# cmake --install and three runs of fray ci init: seconds.
set_tests_properties(cli.ci.init PROPERTIES TIMEOUT 120 LABELS cli)

find_program(FRAY_CLANG_FOR_CI clang)
if(FRAY_CLANG_FOR_CI AND FRAY_BUILD_FUZZERS)
  foreach(engine libfuzzer afl)
    add_test(NAME ossfuzz.ci.${engine}.address
             COMMAND bash ${_ci_sh} ${PROJECT_BINARY_DIR} ${PROJECT_BINARY_DIR}/ci-${engine}
                     ${engine} address)
    # fray and the project compiled with the builder's flags: ~25 s of CPU.
    set_tests_properties(ossfuzz.ci.${engine}.address PROPERTIES TIMEOUT 600
                         SKIP_RETURN_CODE 77 LABELS ossfuzz)
  endforeach()
endif()
