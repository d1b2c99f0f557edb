# bench_segbench (bench/bench_segbench.c): the segmentation-bug benchmark
# over corpus/buggy/, in process. Picked up by the fragment glob in
# bench/CMakeLists.txt; scripts/segbench.sh runs it with the libFuzzer part.
add_executable(bench_segbench ${CMAKE_CURRENT_LIST_DIR}/bench_segbench.c)
target_compile_options(bench_segbench PRIVATE ${FRAY_WARNINGS} -O2)
target_compile_definitions(bench_segbench PRIVATE _DEFAULT_SOURCE)
target_link_libraries(bench_segbench PRIVATE fray_internal fray_examples)

# The issue's bar as a regression test of the portfolio (a few seconds):
# every buggy handler a schedule can expose is caught within 20 random runs
# for at least 8 of seeds 1-10, and its fixed twin passes every family, with
# and without faults. buggy-trustlen's bug is in the bytes, not their
# cutting: no schedule sees it (the fuzzer's malformed mode does).
if(FRAY_BUILD_TESTS)
  file(GLOB _segbench_scripts CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/corpus/buggy/*.fray)
  list(FILTER _segbench_scripts EXCLUDE REGEX "/trustlen[^/]*\\.fray$")
  add_test(NAME bench.segbench.check
           COMMAND bench_segbench --check --seeds 10 --runs 200 --twin-runs 100
                   ${_segbench_scripts})
  set_tests_properties(bench.segbench.check PROPERTIES TIMEOUT 120 LABELS "bench;replay")
endif()
