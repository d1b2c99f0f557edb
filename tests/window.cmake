# The receive-window fault (`fray replay --faults window`, FRAY_FAULT_WINDOW):
# a pub/sub relay whose bug only a window exposes and its fixed twin
# (tests/replay/window_plugin.c, one plugin each), and the check
# (tests/replay/check.sh `window`) that the window on catches the bug, the
# other fault kinds on miss it, and the twin passes with all of them.
if(NOT TARGET fray_cli)
  return()
endif()

foreach(fixed 0 1)
  set(t fray_plugin_window_relay_${fixed})
  add_library(${t} MODULE ${PROJECT_SOURCE_DIR}/tests/replay/window_plugin.c)
  set_target_properties(${t} PROPERTIES PREFIX "" OUTPUT_NAME window-relay-${fixed}
    LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/harness/include)
  target_compile_definitions(${t} PRIVATE WINDOW_FIXED=${fixed})
  target_compile_options(${t} PRIVATE ${FRAY_WARNINGS})
endforeach()
fray_replay_check(replay.window.lossy window 120
  $<TARGET_FILE:fray_plugin_window_relay_0> $<TARGET_FILE:fray_plugin_window_relay_1>
  ${PROJECT_SOURCE_DIR}/tests/replay/window-lossy.fray)
# --exec holds a client's reads too (`NAME stops reading`, `NAME reads N`),
# on the poll and the edge-triggered epoll server.
foreach(style poll epoll)
  if(TARGET exec_${style} AND TARGET fray_shim)
    fray_replay_check(replay.window.exec.${style} window-exec 60 "$<TARGET_FILE:exec_${style}> {port}")
    set_property(TEST replay.window.exec.${style} APPEND PROPERTY LABELS shim)
  endif()
endforeach()
