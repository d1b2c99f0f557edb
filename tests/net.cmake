# Real sockets (label `net`): `fray serve` driven by `fray replay --connect`,
# real redis-server and memcached, bad input, and the load test (labels
# `net;load`). Every test starts its own servers on free loopback ports
# (tests/net/run.sh) and stops them, also on failure. Tests needing a server
# binary that is not installed are reported as skipped, not failed.
if(NOT TARGET fray_cli OR NOT TARGET fray_event)
  return()
endif()

set(_net_run ${PROJECT_SOURCE_DIR}/tests/net/run.sh)
set(_net_fray $<TARGET_FILE:fray_cli>)

# Registers `run.sh ARGS...` as ctest NAME.
function(fray_net_test name timeout)
  add_test(NAME ${name} COMMAND bash ${_net_run} ${ARGN} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout} LABELS net SKIP_RETURN_CODE 77)
endfunction()

# (1) The chat example under `fray serve`: the corpus passes over TCP as it
# does in-process, under whole, random and bytewise schedules...
file(GLOB _net_chat CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/corpus/chat/*.fray)
foreach(sched whole random bytewise)
  fray_net_test(net.serve.chat.${sched} 120 serve ${_net_fray} chat --
    @FRAY@ replay --connect 127.0.0.1:@PORT@ --schedule ${sched} --runs 3 --seed 1 ${_net_chat})
endforeach()
# The chat example's idle timeout on libevent's real timers: the script the
# simulator runs in virtual time passes in 3 s of real time (the other
# corpus/chat_idle/ scripts wait minutes: the simulator's only).
fray_net_test(net.serve.chat_idle 60 serve ${_net_fray} chat --
  @FRAY@ replay --connect 127.0.0.1:@PORT@ --schedule whole ${PROJECT_SOURCE_DIR}/corpus/chat_idle/realtime.fray)
# wc answers from on_eof (the handler's last word after the peer's FIN) over
# TCP as it does in-process: libevent hands the FIN to the same runtime.
file(GLOB _net_wc CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/corpus/wc/*.fray)
fray_net_test(net.serve.wc.random 60 serve ${_net_fray} wc --
  @FRAY@ replay --connect 127.0.0.1:@PORT@ --schedule random --runs 3 --seed 1 ${_net_wc})
# A client that stops reading its socket (`alice stops reading`, `reads N`):
# the kernel holds what chat sends it, the others are not held up.
fray_net_test(net.serve.backpressure 60 serve ${_net_fray} chat --
  @FRAY@ replay --connect 127.0.0.1:@PORT@ --schedule random --runs 3 --seed 1
  ${PROJECT_SOURCE_DIR}/corpus/backpressure/slowreader.fray)
# ... and the verdicts agree: a handler with a split bug fails over TCP
# (exit 1) under bytewise as in-process, and passes whole.
fray_net_test(net.serve.buggy.split 60 --expect 1 serve ${_net_fray} buggy-splitdelim --
  @FRAY@ replay --connect 127.0.0.1:@PORT@ --timeout-ms 300 --schedule bytewise
  ${PROJECT_SOURCE_DIR}/corpus/buggy/splitdelim.fray)
fray_net_test(net.serve.buggy.whole 60 serve ${_net_fray} buggy-splitdelim --
  @FRAY@ replay --connect 127.0.0.1:@PORT@ --schedule whole
  ${PROJECT_SOURCE_DIR}/corpus/buggy/splitdelim.fray)
# A reproducer saved under --connect replays with the command in its
# header, which names the server (tests/replay/check.sh repro-command).
fray_net_test(net.serve.buggy.repro_command 60 serve ${_net_fray} buggy-splitdelim --
  sh ${PROJECT_SOURCE_DIR}/tests/replay/check.sh repro-command @FRAY@ ${PROJECT_SOURCE_DIR}
  ${PROJECT_BINARY_DIR}/tests/replay-work/net.serve.buggy.repro_command
  --connect 127.0.0.1:@PORT@ --timeout 300ms)
# Unread bytes fail at the close over TCP too (tests/replay/check.sh).
fray_net_test(net.serve.close_unread 60 serve ${_net_fray} echo --
  sh ${PROJECT_SOURCE_DIR}/tests/replay/check.sh close-unread @FRAY@ ${PROJECT_SOURCE_DIR}
  ${PROJECT_BINARY_DIR}/tests/replay-work/net.serve.close_unread --connect 127.0.0.1:@PORT@)

# (2) Real servers. corpus/redis/ scripts also pass in-process against the
# resp example (@handler resp). corpus/memcached/ scripts have no in-process
# handler: tests/cli_replay.cmake and bench_replay leave them out.
file(GLOB _net_redis CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/corpus/redis/*.fray)
file(GLOB _net_mc CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/corpus/memcached/*.fray)
foreach(sched whole bytewise random)
  fray_net_test(net.redis.${sched} 120 redis ${_net_fray} --
    @FRAY@ replay --connect 127.0.0.1:@PORT@ --schedule ${sched} --runs 10 --seed 1 ${_net_redis})
  fray_net_test(net.memcached.${sched} 120 memcached ${_net_fray} --
    @FRAY@ replay --connect 127.0.0.1:@PORT@ --schedule ${sched} --runs 10 --seed 1 ${_net_mc})
endforeach()

# (3) Bad input: refused and bad addresses, ports in use, servers that close
# early or never answer, --max-conns, --idle-timeout, SIGTERM.
add_test(NAME net.errors COMMAND bash ${PROJECT_SOURCE_DIR}/tests/net/errors.sh ${_net_fray}
         ${PROJECT_SOURCE_DIR})
set_tests_properties(net.errors PROPERTIES TIMEOUT 120 LABELS net)

# (4) Load and faults: 1,000 chat clients for 3 s (tests/net/load.c; by hand:
# `fray-load --fray build/fray --seconds 10`), with resets mid-frame, 10 MB
# lines and clients that never read.
add_executable(fray_load ${PROJECT_SOURCE_DIR}/tests/net/load.c)
target_compile_options(fray_load PRIVATE ${FRAY_WARNINGS})
target_link_libraries(fray_load PRIVATE fray_event) # for libevent; its imported target is directory-scoped
set_target_properties(fray_load PROPERTIES OUTPUT_NAME fray-load)
add_test(NAME net.load COMMAND fray_load --fray ${_net_fray} --clients 1000 --seconds 3)
set_tests_properties(net.load PROPERTIES TIMEOUT 180 LABELS "net;load")
