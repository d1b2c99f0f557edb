# bench_replay (bench/bench_replay.c): schedule runs per second of the
# simulator, in process, on the example corpus. Picked up by the fragment
# glob in bench/CMakeLists.txt.
add_executable(bench_replay ${CMAKE_CURRENT_LIST_DIR}/bench_replay.c)
target_compile_options(bench_replay PRIVATE ${FRAY_WARNINGS} -O2)
target_compile_definitions(bench_replay PRIVATE _DEFAULT_SOURCE
  FRAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(bench_replay PRIVATE fray_internal fray_examples)

# Smoke test only: fails when a corpus script fails or the program errors,
# never on speed.
if(FRAY_BUILD_TESTS)
  add_test(NAME bench.replay.quick COMMAND bench_replay --quick)
  set_tests_properties(bench.replay.quick PROPERTIES TIMEOUT 300 LABELS "bench;replay")
endif()
