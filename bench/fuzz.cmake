# bench_fuzz (bench/bench_fuzz.c): what one fuzz input costs fray without
# libFuzzer: the session driver against a naive one-read run and the bare
# framer on the same inputs. Picked up by the fragment glob in
# bench/CMakeLists.txt; bench/fuzz_speed.sh runs it on a fuzzed corpus.
add_executable(bench_fuzz ${CMAKE_CURRENT_LIST_DIR}/bench_fuzz.c)
target_compile_options(bench_fuzz PRIVATE ${FRAY_WARNINGS} -O2)
target_compile_definitions(bench_fuzz PRIVATE _DEFAULT_SOURCE
  FRAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_include_directories(bench_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/targets)
target_link_libraries(bench_fuzz PRIVATE fray_internal fray_examples)

# Smoke test only: fails when a seed session fails or the program errors,
# never on speed.
if(FRAY_BUILD_TESTS)
  add_test(NAME bench.fuzz.quick COMMAND bench_fuzz --quick)
  set_tests_properties(bench.fuzz.quick PROPERTIES TIMEOUT 300 LABELS bench)
endif()
