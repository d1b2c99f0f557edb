# bench/fuzz_exec.sh: `fray fuzz --exec` execs/s (AFL++, the shim's fuzz
# mode, oracle on) against `fray replay --exec` runs/s on the tests' poll
# server, and bench/fuzz_exec_ttb.sh its time-to-bug table against the
# `--reads whole` ablation. Smoke test only (a few seconds, never judged on
# speed); skipped when AFL++ is missing. Not in sanitizer builds: their
# fuzz shim needs a sanitized server, and their speed means nothing.
if(FRAY_BUILD_TESTS AND TARGET fray_shim_fuzz AND TARGET fray_cli AND NOT FRAY_SANITIZE)
  add_test(NAME bench.fuzz_exec.quick
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/fuzz_exec.sh --time 4 --runs 200
                   --fray $<TARGET_FILE:fray_cli>)
  set_tests_properties(bench.fuzz_exec.quick PROPERTIES TIMEOUT 300 LABELS "bench;afl"
                       SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endif()
