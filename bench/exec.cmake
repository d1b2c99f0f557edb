# bench_exec: exact schedules through the shim against --connect, on
# tests/exec's poll server (bench_exec --help). The smoke test checks only
# that every run passes, never the speed.
if(NOT TARGET fray_shim OR NOT TARGET exec_poll)
  return()
endif()
add_executable(bench_exec bench_exec.c)
target_compile_options(bench_exec PRIVATE ${FRAY_WARNINGS})
target_compile_definitions(bench_exec PRIVATE FRAY_BINARY_DIR="${PROJECT_BINARY_DIR}")
target_link_libraries(bench_exec PRIVATE fray_internal)
add_dependencies(bench_exec fray_shim exec_poll)
if(FRAY_BUILD_TESTS)
  add_test(NAME bench.exec.quick COMMAND bench_exec --quick)
  set_tests_properties(bench.exec.quick PROPERTIES TIMEOUT 120 LABELS "bench;shim")
endif()
