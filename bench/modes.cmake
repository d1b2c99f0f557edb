# bench_modes: the framer's delimiter-set, byte-set, text-length and
# odd-width length modes against count and length u32be on the same bytes.
add_executable(bench_modes ${CMAKE_CURRENT_SOURCE_DIR}/bench_modes.c)
target_compile_options(bench_modes PRIVATE ${FRAY_WARNINGS} -O2)
target_compile_definitions(bench_modes PRIVATE _DEFAULT_SOURCE)
target_link_libraries(bench_modes PRIVATE fray_static)
if(FRAY_BUILD_TESTS)
  add_test(NAME bench.modes.quick COMMAND bench_modes --quick)
  set_tests_properties(bench.modes.quick PROPERTIES TIMEOUT 300 LABELS bench)
endif()
