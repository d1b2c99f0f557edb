# Servers for the `--exec` shim's tests (label `exec`): the same small line
# protocol (tests/exec/README.md) in several readiness styles, each with a
# correct twin and buggy twins (`--bug NAME`). The tests replay
# tests/exec/scripts/ against every correct twin with `--connect`, and
# under `fray exec`'s standing policies; the memcached scripts
# (corpus/memcached/) run in tests/net.cmake.
if(NOT TARGET fray_cli)
  return()
endif()

find_package(Threads REQUIRED)
add_library(fray_exec_proto STATIC ${PROJECT_SOURCE_DIR}/tests/exec/proto.c)
target_compile_options(fray_exec_proto PRIVATE ${FRAY_WARNINGS})
target_link_libraries(fray_exec_proto PUBLIC Threads::Threads)

# exec-<style> from tests/exec/srv_<style>.c.
set(_exec_styles poll select epoll thread)
pkg_check_modules(EXEC_LIBEVENT QUIET IMPORTED_TARGET libevent_core)
if(EXEC_LIBEVENT_FOUND)
  list(APPEND _exec_styles libevent)
endif()
foreach(style ${_exec_styles})
  add_executable(exec_${style} ${PROJECT_SOURCE_DIR}/tests/exec/srv_${style}.c)
  target_compile_options(exec_${style} PRIVATE ${FRAY_WARNINGS})
  target_link_libraries(exec_${style} PRIVATE fray_exec_proto)
  set_target_properties(exec_${style} PROPERTIES OUTPUT_NAME exec-${style}
                        RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests/exec)
endforeach()
if(EXEC_LIBEVENT_FOUND)
  target_link_libraries(exec_libevent PRIVATE PkgConfig::EXEC_LIBEVENT)
endif()

# exec-block: one connection at a time, blocking reads (the shim's fuzz
# mode tests only: multi-client scripts do not suit it).
add_executable(exec_block ${PROJECT_SOURCE_DIR}/tests/exec/srv_block.c)
target_compile_options(exec_block PRIVATE ${FRAY_WARNINGS})
target_link_libraries(exec_block PRIVATE fray_exec_proto)
set_target_properties(exec_block PROPERTIES OUTPUT_NAME exec-block
                      RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests/exec)

# exec-fork: fork per connection (its store is per child: one-client
# scripts only), apart from the styles every script runs against.
add_executable(exec_fork ${PROJECT_SOURCE_DIR}/tests/exec/srv_fork.c)
target_compile_options(exec_fork PRIVATE ${FRAY_WARNINGS})
target_link_libraries(exec_fork PRIVATE fray_exec_proto)
set_target_properties(exec_fork PROPERTIES OUTPUT_NAME exec-fork
                      RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests/exec)

# exec-poll-static: the poll server linked statically, which no preload
# library can enter (built where a static libc is installed).
include(CheckCSourceCompiles)
set(CMAKE_REQUIRED_LINK_OPTIONS -static)
check_c_source_compiles("int main(void) { return 0; }" FRAY_HAVE_STATIC_LINK)
unset(CMAKE_REQUIRED_LINK_OPTIONS)
if(FRAY_HAVE_STATIC_LINK AND NOT FRAY_SANITIZE)
  add_executable(exec_poll_static ${PROJECT_SOURCE_DIR}/tests/exec/srv_poll.c
                 ${PROJECT_SOURCE_DIR}/tests/exec/proto.c)
  target_compile_options(exec_poll_static PRIVATE ${FRAY_WARNINGS})
  target_link_options(exec_poll_static PRIVATE -static)
  target_link_libraries(exec_poll_static PRIVATE Threads::Threads)
  set_target_properties(exec_poll_static PROPERTIES OUTPUT_NAME exec-poll-static
                        RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests/exec)
endif()

# The servers as commands: exec-<style> binaries, the asyncio server, and a
# Node server where `node` is installed.
# _exec_cmd_<name> is server <name>'s command, without its port.
set(_exec_servers ${_exec_styles})
foreach(style ${_exec_styles})
  set(_exec_cmd_${style} $<TARGET_FILE:exec_${style}>)
endforeach()
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  # The interpreter itself, not a version manager's wrapper script (pyenv's
  # runs a dozen processes for a second before Python starts).
  execute_process(COMMAND ${Python3_EXECUTABLE} -c "import sys; print(sys.executable)"
                  OUTPUT_VARIABLE _exec_python OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _exec_python_rc)
  if(NOT _exec_python_rc EQUAL 0 OR NOT _exec_python)
    set(_exec_python ${Python3_EXECUTABLE})
  endif()
  list(APPEND _exec_servers asyncio)
  set(_exec_cmd_asyncio ${_exec_python} ${PROJECT_SOURCE_DIR}/tests/exec/server.py)
endif()
find_program(FRAY_NODE NAMES node nodejs)
if(FRAY_NODE)
  list(APPEND _exec_servers node)
  set(_exec_cmd_node ${FRAY_NODE} ${PROJECT_SOURCE_DIR}/tests/exec/server.js)
endif()

# Every correct twin passes every script under whole, bytewise and random
# schedules over TCP; tests/exec/run.sh also checks that SIGTERM stops the
# server with status 0 and that nothing of it is left running. (Whether
# `--connect` catches the buggy twins depends on timing: measured by
# tests/exec/baseline.sh and tabled in tests/exec/README.md, not asserted.)
file(GLOB _exec_scripts CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/exec/scripts/*.fray)
set(_exec_sched_whole --schedule whole)
set(_exec_sched_bytewise --schedule bytewise)
set(_exec_sched_random --schedule random --runs 20 --seed 1)
set(_exec_usage "")
foreach(style ${_exec_servers})
  string(JOIN " " _cmd ${_exec_cmd_${style}})
  list(APPEND _exec_usage "${_cmd}")
  foreach(sched whole bytewise random)
    add_test(NAME exec.connect.${style}.${sched}
      COMMAND bash ${PROJECT_SOURCE_DIR}/tests/exec/run.sh ${_exec_cmd_${style}} {port} --then
              $<TARGET_FILE:fray_cli> replay --connect 127.0.0.1:@PORT@ ${_exec_sched_${sched}}
              ${_exec_scripts})
    set_tests_properties(exec.connect.${style}.${sched} PROPERTIES TIMEOUT 60 LABELS "exec;net")
  endforeach()
endforeach()

# Under the shim (`fray exec`, a standing policy on every connection the
# server accepts; the client replays `whole`): every correct twin passes
# with one-byte reads, random cuts, and short writes; the twins whose bug
# those policies expose whatever the timing are caught: droptail by one-byte
# reads, shortwrite by short writes. (oneline, max64 and quitrest need
# lines merged into one read: the shim's cuts never merge, so they are left
# to `fray replay --exec` schedules.)
if(TARGET fray_shim)
  set(_exec_pol_reads1 --reads 1)
  set(_exec_pol_random --reads random:1)
  set(_exec_pol_short --writes short:1)
  set(_exec_fray $<TARGET_FILE:fray_cli>)
  foreach(style ${_exec_servers})
    set(_cases reads1 random short droptail)
    if(style MATCHES "^(poll|select|epoll|thread)$")
      list(APPEND _cases shortwrite)
    endif()
    foreach(case ${_cases})
      set(_expect 0)
      set(_bug "")
      set(_pol ${_exec_pol_${case}})
      if(case STREQUAL droptail)
        set(_expect 1)
        set(_bug --bug droptail)
        set(_pol ${_exec_pol_reads1})
      elseif(case STREQUAL shortwrite)
        set(_expect 1)
        set(_bug --bug shortwrite)
        set(_pol ${_exec_pol_short})
      endif()
      add_test(NAME exec.shim.${style}.${case}
        COMMAND bash ${PROJECT_SOURCE_DIR}/tests/exec/run.sh --expect ${_expect}
                ${_exec_fray} exec ${_pol} -- ${_exec_cmd_${style}} {port} ${_bug} --then
                ${_exec_fray} replay --connect 127.0.0.1:@PORT@ --timeout-ms 1000 --schedule whole
                ${_exec_scripts})
      set_tests_properties(exec.shim.${style}.${case} PROPERTIES TIMEOUT 60 LABELS "exec;shim")
    endforeach()
  endforeach()
endif()

# A misspelt --bug is a usage error (exit 2), never a correct twin running
# under a buggy twin's name.
add_test(NAME exec.usage COMMAND bash ${PROJECT_SOURCE_DIR}/tests/exec/usage.sh ${_exec_usage})
set_tests_properties(exec.usage PROPERTIES TIMEOUT 30 LABELS exec)
