# Plugins that cannot be used (tests/plugin/unusable.c): `fray replay` and
# `fray serve` refuse each at load with the same one-line reason and exit 2
# (label cli). serve stops before it listens.
if(NOT TARGET fray_cli)
  return()
endif()

foreach(kind 1 2 3)
  add_library(fray_test_unusable${kind} MODULE ${CMAKE_CURRENT_LIST_DIR}/plugin/unusable.c)
  set_target_properties(fray_test_unusable${kind} PROPERTIES PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/plugin)
  target_include_directories(fray_test_unusable${kind} PRIVATE
    ${PROJECT_SOURCE_DIR}/harness/include ${FRAY_GENERATED_INCLUDE_DIR})
  target_compile_definitions(fray_test_unusable${kind} PRIVATE KIND=${kind})
  target_compile_options(fray_test_unusable${kind} PRIVATE ${FRAY_WARNINGS})
endforeach()

# The faulty plugin (tests/plugin/faulty.c) for crash isolation's tests below.
add_library(fray_test_faulty MODULE ${CMAKE_CURRENT_LIST_DIR}/plugin/faulty.c)
set_target_properties(fray_test_faulty PROPERTIES PREFIX ""
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/plugin)
target_include_directories(fray_test_faulty PRIVATE
  ${PROJECT_SOURCE_DIR}/harness/include ${FRAY_GENERATED_INCLUDE_DIR})
target_compile_options(fray_test_faulty PRIVATE ${FRAY_WARNINGS})

# Crash isolation (tests/replay/check.sh isolation-*): a crash, an abort, a hang, a
# crashing variant, and under ASan a sanitizer's report, each a FAIL of its
# script while the others run.
set(_isolation_checks crash hang mutate)
if(FRAY_SANITIZE MATCHES address)
  list(APPEND _isolation_checks sanitizer)
endif()
foreach(check ${_isolation_checks})
  add_test(NAME cli.plugin.isolation.${check}
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/replay/check.sh isolation-${check}
            $<TARGET_FILE:fray_cli> ${PROJECT_SOURCE_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/isolation-work/${check} $<TARGET_FILE:fray_test_faulty>)
  set_tests_properties(cli.plugin.isolation.${check} PROPERTIES TIMEOUT 60 LABELS "cli;replay")
endforeach()

# fray_plugin_refused(NAME KIND STDERR_ERE): both commands, exit 2, one line.
function(fray_plugin_refused name kind stderr_re)
  add_test(NAME cli.plugin.${name}
           COMMAND sh -c [=[
f=$0 p=$1 s=$2 r=$3
for cmd in "replay --plugin $p $s" "serve --plugin $p --listen 127.0.0.1:0"
do
  rc=0 && err=$(timeout 20 $f $cmd 2>&1 >/dev/null) || rc=$?
  printf '%s: exit %s, stderr:\n%s\n' "$cmd" "$rc" "$err"
  test "$rc" = 2 || { echo "FAIL: exit $rc, want 2" && exit 1
  }
  test "$(printf '%s\n' "$err" | wc -l)" = 1 || { echo "FAIL: not one line" && exit 1
  }
  printf '%s\n' "$err" | grep -Eq -- "$r" || { echo "FAIL: stderr does not match: $r" && exit 1
  }
done
]=] $<TARGET_FILE:fray_cli> $<TARGET_FILE:fray_test_unusable${kind}>
      ${CMAKE_CURRENT_LIST_DIR}/plugin/one.fray ${stderr_re})
  set_tests_properties(cli.plugin.${name} PROPERTIES TIMEOUT 60 LABELS cli)
endfunction()

fray_plugin_refused(bad_spec 1
  "plugin .*: the handler's spec is invalid: delimiter must be 1 to 16 bytes$")
fray_plugin_refused(conn_size_overflow 2
  "plugin .*: the handler's conn_size \\(18446744073709551615 bytes\\) is over the 1073741824-byte limit$")
fray_plugin_refused(server_init_fails 3
  "plugin .*: the handler's server_init failed: invalid argument$")
