# Reproducers that reproduce (label `replay`): tests/replay/check.sh
# replay-all saves the reproducers of every schedule kind on corpus/buggy/,
# of --mutate on the trusted-length bug and of --exec on a buggy twin of
# tests/exec's servers, replays each with the command in its `# replay:`
# line expecting the same kind of failure, and replays those with a fixed
# twin against it expecting a pass (the PING/ECHO handlers against
# tests/replay/pingecho_plugin.c, the --exec ones against the correct twin).
if(NOT TARGET fray_cli)
  return()
endif()

add_library(fray_plugin_pingecho MODULE ${PROJECT_SOURCE_DIR}/tests/replay/pingecho_plugin.c)
set_target_properties(fray_plugin_pingecho PROPERTIES PREFIX "" OUTPUT_NAME pingecho
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
target_include_directories(fray_plugin_pingecho PRIVATE ${PROJECT_SOURCE_DIR}/harness/include)
target_compile_options(fray_plugin_pingecho PRIVATE ${FRAY_WARNINGS})

# The fixed twin of buggy-trustlen, and buggy-trustlen itself as a plugin
# (a kept variant's `# replay:` line must carry --plugin).
foreach(p lenecho trustlen)
  add_library(fray_plugin_${p} MODULE ${PROJECT_SOURCE_DIR}/tests/replay/${p}_plugin.c)
  set_target_properties(fray_plugin_${p} PROPERTIES PREFIX "" OUTPUT_NAME ${p}
    LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  target_include_directories(fray_plugin_${p} PRIVATE ${PROJECT_SOURCE_DIR}/harness/include)
  target_compile_options(fray_plugin_${p} PRIVATE ${FRAY_WARNINGS})
endforeach()

set(_repro_exec "")
if(TARGET exec_poll AND TARGET fray_shim)
  set(_repro_exec $<TARGET_FILE:exec_poll>)
endif()
add_test(NAME replay.repro.replay_all
  COMMAND sh ${PROJECT_SOURCE_DIR}/tests/replay/check.sh replay-all $<TARGET_FILE:fray_cli>
          ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/tests/replay-work/replay.repro.replay_all
          $<TARGET_FILE:fray_plugin_pingecho> "${_repro_exec}" $<TARGET_FILE:fray_plugin_lenecho>
          $<TARGET_FILE:fray_plugin_trustlen>)
# The memory oracle behind the mutant's failure is silent under sanitizers
# (their allocators answer mallinfo2 with zeros): no mutant there.
set(_repro_heap 1)
if(FRAY_SANITIZE)
  set(_repro_heap 0)
endif()
set_tests_properties(replay.repro.replay_all PROPERTIES TIMEOUT 300 LABELS replay
  ENVIRONMENT "FRAY_REPRO_HEAP=${_repro_heap}")
