# bench_proxy (bench/bench_proxy.c): MB/s through `fray proxy` (pass-through
# and --split random) against socat and a direct connection, in the same
# run, byte-exact. Picked up by the fragment glob in bench/CMakeLists.txt.
if(NOT TARGET fray_cli)
  return()
endif()
find_package(Threads REQUIRED)
add_executable(bench_proxy ${CMAKE_CURRENT_LIST_DIR}/bench_proxy.c)
target_compile_options(bench_proxy PRIVATE ${FRAY_WARNINGS} -O2)
target_compile_definitions(bench_proxy PRIVATE _DEFAULT_SOURCE)
target_link_libraries(bench_proxy PRIVATE Threads::Threads)
add_dependencies(bench_proxy fray_cli)

# Smoke test only: fails when a transfer is not byte-exact, never on speed.
if(FRAY_BUILD_TESTS)
  add_test(NAME bench.proxy.quick COMMAND bench_proxy $<TARGET_FILE:fray_cli> --quick)
  set_tests_properties(bench.proxy.quick PROPERTIES TIMEOUT 300 LABELS "bench;net")
endif()
