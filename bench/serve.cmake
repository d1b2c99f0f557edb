# bench_serve (bench/bench_serve.c): `fray serve`'s engine with the echo
# handler against a minimal libevent evbuffer_readln echo server, on
# loopback, in the same run. Needs the libevent adapter.
if(TARGET fray_event)
  pkg_check_modules(LIBEVENT_PTHREADS REQUIRED IMPORTED_TARGET libevent_pthreads)
  find_package(Threads REQUIRED)
  add_executable(bench_serve ${CMAKE_CURRENT_LIST_DIR}/bench_serve.c)
  target_compile_options(bench_serve PRIVATE ${FRAY_WARNINGS} -O2)
  target_link_libraries(bench_serve PRIVATE fray_event fray_examples PkgConfig::LIBEVENT_PTHREADS
                        Threads::Threads)
  # Smoke test only: fails when an echo is wrong or the program errors,
  # never on speed.
  if(FRAY_BUILD_TESTS)
    add_test(NAME bench.serve.quick COMMAND bench_serve --quick)
    set_tests_properties(bench.serve.quick PROPERTIES TIMEOUT 120 LABELS "bench;net")
  endif()
endif()
