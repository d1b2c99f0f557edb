# The fault kinds of `fray replay --faults` that strike at drawn points
# (fray/sched.h): for each, a handler with a bug only that kind exposes and
# its fixed twin (tests/replay/faults_plugin.c, one plugin each), and a
# check (tests/replay/check.sh `faults`) that the kind on catches the bug,
# every other kind on misses it, and the twin passes with all of them.
if(NOT TARGET fray_cli)
  return()
endif()

set(_faults_kinds "1 partial close-mid-send" "2 nick random-close" "3 zeroread read-gap"
  "4 stream reset-mid-write")
foreach(k ${_faults_kinds})
  separate_arguments(k)
  list(GET k 0 num)
  list(GET k 1 name)
  list(GET k 2 fault)
  foreach(fixed 0 1)
    set(t fray_plugin_faults_${name}_${fixed})
    add_library(${t} MODULE ${PROJECT_SOURCE_DIR}/tests/replay/faults_plugin.c)
    set_target_properties(${t} PROPERTIES PREFIX "" OUTPUT_NAME faults-${name}-${fixed}
      LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
    target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/harness/include)
    target_compile_definitions(${t} PRIVATE FAULTS_KIND=${num} FAULTS_FIXED=${fixed})
    target_compile_options(${t} PRIVATE ${FRAY_WARNINGS})
  endforeach()
  fray_replay_check(replay.faults.${fault} faults 120 ${fault}
    $<TARGET_FILE:fray_plugin_faults_${name}_0> $<TARGET_FILE:fray_plugin_faults_${name}_1>
    ${PROJECT_SOURCE_DIR}/tests/replay/faults-${name}.fray)
endforeach()

# The same kinds under --exec (the shim): tests/exec's poll server with a
# planted bug only that kind exposes (--bug), and without it; read-gap also
# on the thread server, whose blocking reads get EINTR instead of EAGAIN;
# window on the poll server (borrowed: a short write's rest kept in a buffer
# another connection's reply overwrites while the client reads slowly).
# (short-writes has its own: tests/exec's shortwrite bug, ctest exec.*.)
set(_faults_exec "close-mid-send poll partialeof partial" "random-close poll closeidle idle"
  "read-gap poll eagainfatal gap" "read-gap thread eagainfatal gap" "eof-with-data poll eofdrop eof"
  "reset-mid-write poll writefatal reset" "window poll borrowed window")
foreach(k ${_faults_exec})
  separate_arguments(k)
  list(GET k 0 fault)
  list(GET k 1 style)
  list(GET k 2 bug)
  list(GET k 3 script)
  if(NOT TARGET exec_${style} OR NOT TARGET fray_shim)
    continue()
  endif()
  set(_srv "$<TARGET_FILE:exec_${style}> {port}")
  fray_replay_check(shim.faults.${fault}.${style} faults-exec 300 ${fault} "${_srv} --bug ${bug}"
    "${_srv}" ${PROJECT_SOURCE_DIR}/tests/exec/faults/${script}.fray)
  set_property(TEST shim.faults.${fault}.${style} APPEND PROPERTY LABELS shim)
endforeach()
