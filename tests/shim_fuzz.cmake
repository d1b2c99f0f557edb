# The shim's fuzz mode (libfray-shim-fuzz.so, `fray fuzz --exec`;
# docs/exec.md, "Fuzzing"), label `shim`: one input at a time without
# afl-fuzz, against the exec test servers (tests/exec/) built as usual.
if(NOT TARGET fray_shim_fuzz OR NOT TARGET fray_cli)
  return()
endif()

set(_fuzz_oneshot ${PROJECT_SOURCE_DIR}/tests/shim/fuzz_oneshot.sh)
foreach(style poll epoll libevent)
  if(NOT TARGET exec_${style})
    continue()
  endif()
  # libevent retries short writes itself, and its max64 twin refuses a
  # full input buffer however the line was cut (tests/exec/README.md).
  set(_bugs droptail oneline max64 shortwrite)
  if(style STREQUAL "libevent")
    set(_bugs droptail oneline)
  endif()
  add_test(NAME shim.fuzz.oneshot.${style}
           COMMAND bash ${_fuzz_oneshot} $<TARGET_FILE:fray_cli> $<TARGET_FILE:fray_shim_fuzz>
                   $<TARGET_FILE:exec_${style}> ${_bugs})
  set_tests_properties(shim.fuzz.oneshot.${style} PROPERTIES TIMEOUT 120 LABELS shim)
endforeach()
