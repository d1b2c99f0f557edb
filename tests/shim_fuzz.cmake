# The shim's fuzz mode (libfray-shim-fuzz.so, `fray fuzz --exec`;
# docs/exec.md, "Fuzzing"), label `shim`: one input at a time without
# afl-fuzz, against the exec test servers (tests/exec/) built as usual.
if(NOT TARGET fray_shim_fuzz OR NOT TARGET fray_cli)
  return()
endif()

set(_fuzz_oneshot ${PROJECT_SOURCE_DIR}/tests/shim/fuzz_oneshot.sh)
foreach(style poll epoll libevent block)
  if(NOT TARGET exec_${style})
    continue()
  endif()
  # libevent retries short writes itself, and its max64 twin refuses a
  # full input buffer however the line was cut (tests/exec/README.md).
  # block reads its client with blocking read()s: the session goes on
  # while its only thread waits there.
  set(_bugs droptail oneline max64 shortwrite crcut)
  if(style STREQUAL "libevent")
    set(_bugs droptail oneline)
  elseif(style STREQUAL "block")
    set(_bugs droptail oneline max64 crcut)
  endif()
  add_test(NAME shim.fuzz.oneshot.${style}
           COMMAND bash ${_fuzz_oneshot} $<TARGET_FILE:fray_cli> $<TARGET_FILE:fray_shim_fuzz>
                   $<TARGET_FILE:exec_${style}> ${_bugs})
  set_tests_properties(shim.fuzz.oneshot.${style} PROPERTIES TIMEOUT 120 LABELS shim)
endforeach()

# The fault kinds in fuzz mode, one exec at a time: the poll server's twin
# only that kind exposes (tests/exec/README.md) is caught within 6 execs
# of its tests/exec/faults script with the kind on (one fault seed each)
# and missed without it; the correct servers pass the kind on every
# tests/exec script (docs/exec.md, "Fuzzing").
set(_fuzz_faults ${PROJECT_SOURCE_DIR}/tests/shim/fuzz_faults.sh)
set(_correct)
foreach(style poll select epoll libevent block)
  if(TARGET exec_${style})
    list(APPEND _correct $<TARGET_FILE:exec_${style}>)
  endif()
endforeach()
if(TARGET exec_poll)
  foreach(k "eof-with-data eofdrop" "read-gap eagainfatal" "reset-mid-write writefatal"
          "window borrowed")
    separate_arguments(k)
    list(GET k 0 kind)
    list(GET k 1 bug)
    add_test(NAME shim.fuzz.faults.${kind}
             COMMAND bash ${_fuzz_faults} $<TARGET_FILE:fray_cli> $<TARGET_FILE:fray_shim_fuzz>
                     ${PROJECT_SOURCE_DIR} ${kind} 6 $<TARGET_FILE:exec_poll> ${bug} ${_correct})
    set_tests_properties(shim.fuzz.faults.${kind} PROPERTIES TIMEOUT 180 LABELS shim)
  endforeach()
endif()

# With afl-fuzz: the servers built with afl-clang-fast by the test, a fixed
# budget of 2500 execs per twin and AFL seed 1 (the bugs take a few
# hundred, quitrest up to about 1,500; 77 without AFL++). poll carries
# every bug; epoll and libevent the read-side ones.
set(_fuzz_afl ${PROJECT_SOURCE_DIR}/tests/shim/fuzz_afl.sh)
# In sanitizer builds the fuzz shim loads only into servers built with the
# same sanitizers (harness/shim/CMakeLists.txt): the tests build theirs so.
set(_afl_env)
if(FRAY_SANITIZE MATCHES address)
  list(APPEND _afl_env AFL_USE_ASAN=1)
endif()
if(FRAY_SANITIZE MATCHES undefined)
  list(APPEND _afl_env AFL_USE_UBSAN=1)
endif()
foreach(style poll epoll libevent)
  if(NOT TARGET exec_${style})
    continue()
  endif()
  set(_bugs droptail oneline max64 shortwrite quitrest)
  set(_budget 2500)
  if(style STREQUAL "epoll")
    set(_bugs droptail oneline)
  elseif(style STREQUAL "libevent")
    set(_bugs droptail)
  endif()
  # Sanitized forks cost several times more (ASan's mappings): the afl-fuzz
  # path is covered on poll, with the bugs found in the first execs.
  if(FRAY_SANITIZE)
    if(NOT style STREQUAL "poll")
      continue()
    endif()
    set(_bugs droptail oneline)
    set(_budget 1000)
  endif()
  add_test(NAME shim.fuzz.afl.${style}
           COMMAND env ${_afl_env} bash ${_fuzz_afl} $<TARGET_FILE:fray_cli> ${PROJECT_SOURCE_DIR}
                   ${style} ${_budget}
                   ${_bugs})
  set_tests_properties(shim.fuzz.afl.${style} PROPERTIES TIMEOUT 600 LABELS "shim;afl"
                       SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endforeach()

# The oracle's whole run cannot be forked: the exec ends unjudged, not as
# a crash (tests/shim/fuzz_forkfail.sh; 77 unless root). Not in sanitizer
# builds: the limit of one process also refuses LeakSanitizer's tracer.
if(TARGET exec_poll AND NOT FRAY_SANITIZE)
  add_test(NAME shim.fuzz.forkfail
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/shim/fuzz_forkfail.sh
                   $<TARGET_FILE:fray_shim_fuzz> $<TARGET_FILE:exec_poll>)
  set_tests_properties(shim.fuzz.forkfail PROPERTIES TIMEOUT 60 LABELS shim SKIP_RETURN_CODE 77)
endif()

# A server that reads on a thread per connection cannot be fuzzed (the
# player is the safe point's thread's): each exec says so and exits 2, at
# once, and fray fuzz --exec stops there before afl-fuzz starts.
if(TARGET exec_thread)
  add_test(NAME shim.fuzz.threads
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/shim/fuzz_threads.sh
                   $<TARGET_FILE:fray_cli> $<TARGET_FILE:fray_shim_fuzz> $<TARGET_FILE:exec_thread>)
  set_tests_properties(shim.fuzz.threads PROPERTIES TIMEOUT 60 LABELS shim)
endif()

# fray fuzz --exec's refusals (a server without AFL++'s runtime: the
# plain exec-poll build).
if(TARGET exec_poll)
  add_test(NAME shim.fuzz.cli COMMAND bash ${PROJECT_SOURCE_DIR}/tests/shim/fuzz_cli.sh
                                      $<TARGET_FILE:fray_cli> $<TARGET_FILE:exec_poll>)
  set_tests_properties(shim.fuzz.cli PROPERTIES TIMEOUT 60 LABELS shim)
endif()

# A server that is not deterministic (exec-poll --bug nondet answers PING
# with its pid): the oracle says its split-invariance alarms are
# unreliable, in one exec (oneshot) and under AFL++ (the reference cache's
# check, fray_stats, fray fuzz --exec's write-ups and warning; skipped
# without AFL++).
if(TARGET exec_poll)
  set(_nondet ${PROJECT_SOURCE_DIR}/tests/shim/fuzz_nondet.sh)
  add_test(NAME shim.fuzz.nondet.oneshot
           COMMAND bash ${_nondet} oneshot $<TARGET_FILE:fray_cli> $<TARGET_FILE:fray_shim_fuzz>
                   $<TARGET_FILE:exec_poll>)
  set_tests_properties(shim.fuzz.nondet.oneshot PROPERTIES TIMEOUT 60 LABELS shim)
  add_test(NAME shim.fuzz.nondet.afl
           COMMAND env ${_afl_env} bash ${_nondet} afl $<TARGET_FILE:fray_cli>
                   $<TARGET_FILE:fray_shim_fuzz>
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(shim.fuzz.nondet.afl PROPERTIES TIMEOUT 180 LABELS "shim;afl"
                       SKIP_RETURN_CODE 77)
endif()

# fray fuzz --exec's findings, with afl-fuzz (skipped without AFL++):
# `exits`, a server's exit() a finding by default and none with --exits ok
# (a real crash still is); `groups`, two planted bugs' crashes written up
# once per failure with their counts.
if(TARGET exec_poll)
  foreach(mode exits groups)
    add_test(NAME shim.fuzz.findings.${mode}
             COMMAND env ${_afl_env} bash ${PROJECT_SOURCE_DIR}/tests/shim/fuzz_findings.sh ${mode}
                     $<TARGET_FILE:fray_cli> $<TARGET_FILE:fray_shim_fuzz> ${PROJECT_SOURCE_DIR}
                     3000)
    set_tests_properties(shim.fuzz.findings.${mode} PROPERTIES TIMEOUT 600 LABELS "shim;afl"
                         SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
  endforeach()
endif()
