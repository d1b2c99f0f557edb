# `fray replay` (harness/cli/replay.c): corpus replays under fixed seeds, the
# command's contract (exit codes, file:line:column, --json, --junit,
# reproducers), the buggy examples, and the plugin example. The checks live
# in tests/replay/check.sh; every entry has the label `replay`.
if(NOT TARGET fray_cli)
  return()
endif()

set(_replay_check ${PROJECT_SOURCE_DIR}/tests/replay/check.sh)
set(_replay_work ${PROJECT_BINARY_DIR}/tests/replay-work)

# Registers one check.sh run as ctest entry NAME.
function(fray_replay_check name check timeout)
  add_test(NAME ${name}
    COMMAND sh ${_replay_check} ${check} $<TARGET_FILE:fray_cli> ${PROJECT_SOURCE_DIR}
            ${_replay_work}/${name} ${ARGN})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout} LABELS replay)
endfunction()

# (1) The regression corpus: every script must pass, one ctest per directory
# and schedule; corpus/regressions/ (one script per bug found or fixed) is
# one such directory. corpus/buggy/ (scripts that must fail),
# corpus/plugin/ (needs --plugin, tested below) and corpus/redis/ and
# corpus/memcached/ (real servers, replayed with --connect by tests/net.cmake)
# are left out.
file(GLOB_RECURSE _replay_scripts CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/corpus/*.fray)
set(_replay_dirs "")
set(_replay_buggy "")
foreach(s ${_replay_scripts})
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR}/corpus ${s})
  if(rel MATCHES "^buggy/")
    list(APPEND _replay_buggy ${s})
  elseif(NOT rel MATCHES "^(plugin|redis|memcached)/")
    get_filename_component(d ${rel} DIRECTORY)
    list(APPEND _replay_dirs ${d})
  endif()
endforeach()
list(REMOVE_DUPLICATES _replay_dirs)
foreach(d ${_replay_dirs})
  file(GLOB _dir_scripts ${PROJECT_SOURCE_DIR}/corpus/${d}/*.fray)
  string(REPLACE "/" "." dn "${d}")
  add_test(NAME replay.corpus.${dn}.random
    COMMAND fray_cli replay --schedule random --runs 200 --seed 1 ${_dir_scripts})
  add_test(NAME replay.corpus.${dn}.exhaustive
    COMMAND fray_cli replay --schedule exhaustive --max-cuts 1 ${_dir_scripts})
  set_tests_properties(replay.corpus.${dn}.random replay.corpus.${dn}.exhaustive
    PROPERTIES TIMEOUT 300 LABELS replay)
endforeach()

# (2) The command's contract.
fray_replay_check(replay.contract.exit_codes exit-codes 60)
fray_replay_check(replay.contract.syntax_error syntax 30)
fray_replay_check(replay.contract.json json 60)
fray_replay_check(replay.contract.junit junit 60)
fray_replay_check(replay.contract.save_failures save-failures 120)
# Bounds (--max-runs, --time: PARTIAL, exit 4), progress off a terminal,
# warnings for options that do nothing, and --shard K/N as a partition.
fray_replay_check(replay.contract.bounds bounds 60)
fray_replay_check(replay.contract.progress progress 60)
fray_replay_check(replay.contract.warnings warnings 60)
fray_replay_check(replay.contract.shard shard 120)
fray_replay_check(replay.contract.trace trace 60)
# A reproducer's `# replay:` line replays it, whatever chose the handler
# (--connect: tests/net.cmake).
fray_replay_check(replay.contract.repro_command.handler repro-command 60 --handler buggy-splitdelim)
# Unread bytes fail at the close, not in the client's next connection
# (--connect: tests/net.cmake, --exec: tests/shim.cmake); an unexpected
# failure shows no unrelated expectation.
fray_replay_check(replay.contract.close_unread close-unread 60 --handler echo)
fray_replay_check(replay.contract.unexpected_other unexpected-other 30)
add_library(fray_plugin_splitdelim MODULE ${PROJECT_SOURCE_DIR}/tests/replay/splitdelim_plugin.c)
set_target_properties(fray_plugin_splitdelim PROPERTIES PREFIX "" OUTPUT_NAME splitdelim
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
target_include_directories(fray_plugin_splitdelim PRIVATE ${PROJECT_SOURCE_DIR}/harness/include)
target_compile_options(fray_plugin_splitdelim PRIVATE ${FRAY_WARNINGS})
fray_replay_check(replay.contract.repro_command.plugin repro-command 60
  --plugin $<TARGET_FILE:fray_plugin_splitdelim>)

# (3) Buggy handlers: each script passes whole and fails split, with a
# reproducer. tests/replay/split_bug.fray always runs, so this never
# degenerates into no test while corpus/buggy/ is being written.
fray_replay_check(replay.buggy.split_bug buggy 300 ${PROJECT_SOURCE_DIR}/tests/replay/split_bug.fray)
# Some bugs are in the bytes, not in their cutting: no schedule can find
# them (buggy-trustlen mallocs any announced length; the fuzzer's malformed
# mode does). Their scripts must pass under every schedule instead.
set(_replay_schedule_blind buggy-trustlen)
foreach(s ${_replay_buggy})
  get_filename_component(n ${s} NAME_WE)
  file(STRINGS ${s} _h REGEX "^@handler ")
  string(REGEX REPLACE "^@handler +([^ ]+).*" "\\1" _h "${_h}")
  if(_h IN_LIST _replay_schedule_blind)
    add_test(NAME replay.buggy.${n}.passes
      COMMAND fray_cli replay --schedule random --runs 200 --seed 1 --short-writes ${s})
    set_tests_properties(replay.buggy.${n}.passes PROPERTIES TIMEOUT 120 LABELS replay)
  else()
    fray_replay_check(replay.buggy.${n} buggy 300 ${s})
  endif()
endforeach()
if(_replay_buggy)
  fray_replay_check(replay.buggy.coverage buggy-coverage 60 ${_replay_buggy})
endif()
# (3b) The random portfolio: a bug only a coalesced read shows is found
# within 20 runs for >= 8 of 10 seeds; no family, faults on or off, fails a
# correct handler's script.
fray_replay_check(replay.portfolio.maxread portfolio 120
  ${PROJECT_SOURCE_DIR}/corpus/buggy/maxread.fray)
set(_replay_correct "")
foreach(d ${_replay_dirs})
  file(GLOB _dir_scripts ${PROJECT_SOURCE_DIR}/corpus/${d}/*.fray)
  list(APPEND _replay_correct ${_dir_scripts})
endforeach()
fray_replay_check(replay.portfolio.families families 300 ${_replay_correct})

# (4) The plugin example. examples/CMakeLists.txt normally adds it; add it
# here if it did not, so the test exists either way.
if(NOT TARGET fray_plugin_upper AND EXISTS ${PROJECT_SOURCE_DIR}/examples/plugin/CMakeLists.txt)
  add_subdirectory(${PROJECT_SOURCE_DIR}/examples/plugin ${PROJECT_BINARY_DIR}/examples/plugin)
endif()
if(TARGET fray_plugin_upper)
  file(GLOB _plugin_scripts ${PROJECT_SOURCE_DIR}/corpus/plugin/*.fray)
  # libfray itself is a shared object without fray_plugin_handler().
  fray_replay_check(replay.plugin.upper plugin 120 $<TARGET_FILE:fray_plugin_upper>
    $<TARGET_FILE:fray> ${_plugin_scripts})
endif()

# (5) --trace over --exec: the server is another process, so the trace is
# what crossed the transport: each piece handed over, the bytes received.
if(TARGET exec_poll)
  add_test(NAME replay.contract.trace_exec
           COMMAND sh -c [=[
out=$("$0" replay --trace --schedule whole --exec "$1 {port}" "$2") || { echo "FAIL: exit $?: $out" && exit 1
}
printf '%s\n' "$out" | grep -qxF '  a piece 6 bytes: "PING\r\n"' &&
  printf '%s\n' "$out" | grep -qxF '  a   received 6 bytes: "PONG\r\n"' &&
  printf '%s\n' "$out" | grep -qx 'trace: run 0 (whole, the reference)' ||
  { echo "FAIL: no transport trace in: $out" && exit 1
}
]=] $<TARGET_FILE:fray_cli> $<TARGET_FILE:exec_poll> ${PROJECT_SOURCE_DIR}/tests/exec/scripts/basic.fray)
  set_tests_properties(replay.contract.trace_exec PROPERTIES TIMEOUT 60 LABELS replay)
endif()
