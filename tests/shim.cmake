# The preload shim (harness/shim/, docs/exec.md), label `shim`: its policy
# logic as a unit test, and `fray exec` against real programs started on
# free loopback ports by tests/shim/exec.sh (stopped also on failure).
if(NOT TARGET fray_shim OR NOT TARGET fray_cli)
  return()
endif()

# unit.shim_policy tests the shim's policy code, which is no part of libfray.
target_sources(test_shim_policy PRIVATE ${PROJECT_SOURCE_DIR}/harness/shim/policy.c)

set(_shim_sh ${PROJECT_SOURCE_DIR}/tests/shim/exec.sh)
function(fray_shim_test name timeout)
  add_test(NAME ${name} COMMAND bash ${_shim_sh} $<TARGET_FILE:fray_cli> ${ARGN})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout} LABELS shim SKIP_RETURN_CODE 77)
endfunction()

# redis-benchmark against a redis-server whose every read is one byte (the
# log shows each), then with random cuts and short writes (1-16 bytes, EAGAIN).
fray_shim_test(shim.exec.redis.reads1 240 redis-reads1)
fray_shim_test(shim.exec.redis.short 240 redis-short)
# memcached: a pipelining client and the text-protocol scripts, bytewise
# reads and short writes.
fray_shim_test(shim.exec.memcached 120 memcached)
# The log names the size each read asked for, under one-byte reads and
# short writes (read() and readv()).
foreach(style poll epoll)
  if(TARGET exec_${style})
    fray_shim_test(shim.exec.asked.${style} 60 asked $<TARGET_FILE:exec_${style}>)
  endif()
endforeach()
# Usage errors, static binaries, exit statuses and signals passed on.
fray_shim_test(shim.exec.errors 60 errors)

# A server built with gcc's dynamic ASan runtime, which must come first in
# LD_PRELOAD (clang links its runtime statically by default: no such need).
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  add_executable(shim_echo_asan ${PROJECT_SOURCE_DIR}/tests/shim/echo_server.c)
  target_compile_options(shim_echo_asan PRIVATE -fsanitize=address -fno-omit-frame-pointer)
  target_link_options(shim_echo_asan PRIVATE -fsanitize=address)
  fray_shim_test(shim.exec.asan 60 asan $<TARGET_FILE:shim_echo_asan>)
endif()

# unit.exec_ctl drives tests/exec/'s servers through the shim's control
# channel: they and the shim must be built first.
foreach(t fray_shim exec_poll exec_epoll exec_select exec_thread)
  if(TARGET ${t})
    add_dependencies(test_exec_ctl ${t})
  endif()
endforeach()
set_tests_properties(unit.exec_ctl PROPERTIES LABELS "unit;shim" TIMEOUT 120)

# fray replay --exec: tests/exec's servers started under the shim, every
# schedule exact. Each correct twin passes random schedules with short
# writes; each buggy twin is caught (exit 1); redis passes its corpus.
set(_shim_fray $<TARGET_FILE:fray_cli>)
file(GLOB _shim_exec_scripts CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/exec/scripts/*.fray)
foreach(style poll select epoll thread)
  if(NOT TARGET exec_${style})
    continue()
  endif()
  set(_srv "$<TARGET_FILE:exec_${style}> {port}")
  add_test(NAME shim.replay.${style}.random
           COMMAND ${_shim_fray} replay --exec ${_srv} --schedule random --runs 50 --short-writes
                   ${_shim_exec_scripts})
  add_test(NAME shim.replay.${style}.bytewise
           COMMAND ${_shim_fray} replay --exec ${_srv} --schedule bytewise ${_shim_exec_scripts})
  foreach(bug oneline droptail max64 shortwrite quitrest)
    # Exit 1 exactly: a failure found (2 would be a setup error).
    add_test(NAME shim.replay.${style}.bug.${bug}
             COMMAND sh -c "\"$@\"; test $? -eq 1" sh ${_shim_fray} replay
                     --exec "${_srv} --bug ${bug}" --schedule random --runs 20 --short-writes
                     ${_shim_exec_scripts})
  endforeach()
endforeach()

# Every run exact: real servers (redis, memcached) and tests/exec's
# libevent, asyncio and Node servers pass their scripts under bytewise
# schedules, 200 random ones and every single cut (exhaustive --max-cuts 1),
# and tests/shim/replay_exact.sh fails on any run the shim reports inexact.
# shim.replay.exact.SERVER.SCHED; NEED is skipped (77) when not installed.
set(_exact_sh ${PROJECT_SOURCE_DIR}/tests/shim/replay_exact.sh)
set(_exact_bytewise --schedule bytewise)
set(_exact_random --schedule random --runs 200)
set(_exact_exhaustive --schedule exhaustive --max-cuts 1)
function(fray_exact_tests server need cmd)
  list(LENGTH ARGN nscripts)
  foreach(sched bytewise random exhaustive)
    math(EXPR min "${nscripts} * 2")
    if(sched STREQUAL random)
      math(EXPR min "${nscripts} * 201")
    endif()
    add_test(NAME shim.replay.exact.${server}.${sched}
             COMMAND bash ${_exact_sh} ${_shim_fray} ${need} ${min}
                     --exec ${cmd} ${_exact_${sched}} ${ARGN})
    set_tests_properties(shim.replay.exact.${server}.${sched} PROPERTIES
                         TIMEOUT 120 LABELS shim SKIP_RETURN_CODE 77)
  endforeach()
endfunction()
file(GLOB _shim_redis_scripts CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/corpus/redis/*.fray)
fray_exact_tests(redis redis-server
  "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no" ${_shim_redis_scripts})
# -u: memcached refuses to run as root without a user to become (ignored
# when not root); -U 0: no UDP port to collide with.
file(GLOB _shim_mc_scripts CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/corpus/memcached/*.fray)
fray_exact_tests(memcached memcached
  "memcached -u nobody -p {port} -l 127.0.0.1 -U 0 -t 1" ${_shim_mc_scripts})
foreach(server libevent asyncio node)
  if(server IN_LIST _exec_servers)
    list(GET _exec_cmd_${server} 0 _need)
    string(JOIN " " _cmd ${_exec_cmd_${server}} {port})
    fray_exact_tests(${server} ${_need} "${_cmd}" ${_shim_exec_scripts})
  endif()
endforeach()
# Unread bytes fail at the close under the shim too (tests/replay/check.sh).
if(TARGET exec_poll)
  add_test(NAME shim.replay.close_unread
           COMMAND sh ${PROJECT_SOURCE_DIR}/tests/replay/check.sh close-unread ${_shim_fray}
                   ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/tests/replay-work/shim.close_unread
                   --exec "$<TARGET_FILE:exec_poll> {port}")
endif()
# A failure found under --exec comes out minimised and fails again as its
# header says (tests/replay/check.sh).
if(TARGET exec_poll)
  add_test(NAME shim.replay.minimize
           COMMAND sh ${PROJECT_SOURCE_DIR}/tests/replay/check.sh exec-minimize ${_shim_fray}
                   ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/tests/replay-work/shim.minimize
                   $<TARGET_FILE:exec_poll>)
endif()
get_property(_shim_all DIRECTORY PROPERTY TESTS)
foreach(t ${_shim_all})
  if(t MATCHES "^shim\\.replay\\.")
    set_tests_properties(${t} PROPERTIES TIMEOUT 120 LABELS shim)
  endif()
endforeach()

# Bad input to --exec (tests/shim/badinput.sh): a COMMAND that does not
# start, never listens, listens elsewhere, dies at once leaving a child, or
# is static (directly or behind a shell): exit 2, one line, the server's
# last words, and no process of any of them left (checked in /proc).
set(_bad_static "")
if(TARGET exec_poll_static)
  set(_bad_static $<TARGET_FILE:exec_poll_static>)
endif()
add_test(NAME shim.replay.badinput
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/shim/badinput.sh ${_shim_fray}
                 $<TARGET_FILE:exec_poll> ${PROJECT_SOURCE_DIR}/tests/exec/scripts/basic.fray
                 ${_bad_static})
set_tests_properties(shim.replay.badinput PROPERTIES TIMEOUT 60 LABELS shim)

# Forked servers (exec-fork: a child per connection). Under fray exec the
# standing policy holds in every child, so the buggy twin is caught there;
# under replay --exec a forked child reads the connection, which exact
# schedules cannot follow: fray says so in one line (exit 2).
set(_fork_scripts ${PROJECT_SOURCE_DIR}/tests/exec/scripts/basic.fray
                  ${PROJECT_SOURCE_DIR}/tests/exec/scripts/long.fray)
foreach(case reads1 droptail)
  set(_expect 0)
  set(_bug "")
  if(case STREQUAL droptail)
    set(_expect 1)
    set(_bug --bug droptail)
  endif()
  add_test(NAME shim.exec.fork.${case}
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/exec/run.sh --expect ${_expect}
            ${_shim_fray} exec --reads 1 -- $<TARGET_FILE:exec_fork> {port} ${_bug} --then
            ${_shim_fray} replay --connect 127.0.0.1:@PORT@ --timeout-ms 1000 --schedule whole
            ${_fork_scripts})
  set_tests_properties(shim.exec.fork.${case} PROPERTIES TIMEOUT 60 LABELS "exec;shim")
endforeach()
add_test(NAME shim.replay.fork.inexact
         COMMAND sh -c "out=$(\"$@\" 2>&1); rc=$?; printf '%s\\n' \"$out\"; test $rc -eq 2 && printf '%s\\n' \"$out\" | grep -q 'inexact run: process [0-9]* (forked by the server)'"
                 sh ${_shim_fray} replay --exec "$<TARGET_FILE:exec_fork> {port}"
                 --schedule random --runs 5 ${PROJECT_SOURCE_DIR}/tests/exec/scripts/basic.fray)
set_tests_properties(shim.replay.fork.inexact PROPERTIES TIMEOUT 60 LABELS shim)
