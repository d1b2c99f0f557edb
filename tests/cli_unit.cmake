# unit.cli_opts: the CLI's one option reader and value parsers
# (harness/cli/opts.c). The CLI is not part of libfray, so the test program
# is built from that source beside tests/cli/test_opts.c.
if(NOT TARGET fray_cli)
  return()
endif()
add_executable(test_cli_opts ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_opts.c
                             ${PROJECT_SOURCE_DIR}/harness/cli/opts.c)
target_include_directories(test_cli_opts PRIVATE ${PROJECT_SOURCE_DIR}/harness/cli)
target_compile_options(test_cli_opts PRIVATE ${FRAY_WARNINGS})
target_link_libraries(test_cli_opts PRIVATE fray_internal PkgConfig::CMOCKA)
add_test(NAME unit.cli_opts COMMAND test_cli_opts)
set_tests_properties(unit.cli_opts PROPERTIES TIMEOUT 60 LABELS unit)

# unit.cli_verdictsig: the signature fray fuzz --exec groups its crashes by
# (harness/cli/verdictsig.c), from the verdicts the shim, the player and
# the sanitizers write.
add_executable(test_cli_verdictsig ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_verdictsig.c
                                   ${PROJECT_SOURCE_DIR}/harness/cli/verdictsig.c)
target_include_directories(test_cli_verdictsig PRIVATE ${PROJECT_SOURCE_DIR}/harness/cli)
target_compile_options(test_cli_verdictsig PRIVATE ${FRAY_WARNINGS})
target_link_libraries(test_cli_verdictsig PRIVATE PkgConfig::CMOCKA)
add_test(NAME unit.cli_verdictsig COMMAND test_cli_verdictsig)
set_tests_properties(unit.cli_verdictsig PROPERTIES TIMEOUT 60 LABELS unit)
