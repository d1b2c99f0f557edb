# fray-fuzz-plugin: the libFuzzer driver `fray fuzz --plugin` runs
# (targets/fray_fuzz_main.c with FRAY_FUZZ_DLOPEN, plugin_repro.c, and the
# CLI's plugin loader). Included from the top level, not from targets/, so
# every build has it wherever clang can link libFuzzer, gcc builds too:
# clang compiles the three files and links them with the libfray.a built
# here (C objects link across the two compilers). libfray is linked whole
# and its API exported (-rdynamic) because the plugin calls into it, as it
# calls into the fray command for `fray replay --plugin`. Nothing here is
# instrumented for coverage: the plugin is, which fray fuzz checks.
if(NOT FRAY_BUILD_CLI OR NOT TARGET fray_cli)
  return()
endif()
if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
  set(FRAY_FUZZ_CLANG ${CMAKE_C_COMPILER})
else()
  find_program(FRAY_FUZZ_CLANG NAMES clang clang-18 clang-17 clang-16 clang-15 clang-14)
endif()
set(_why "")
if(NOT FRAY_FUZZ_CLANG)
  set(_why "no clang")
elseif(FRAY_SANITIZE AND NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
  set(_why "libfray built with ${CMAKE_C_COMPILER_ID}'s sanitizers, which clang's cannot join")
else()
  set(_probe ${PROJECT_BINARY_DIR}/CMakeFiles/fray_fuzz_probe.c)
  file(WRITE ${_probe} "#include <stddef.h>\nint LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);\n"
                       "int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n) { return (int)n + (d != 0); }\n")
  execute_process(COMMAND ${FRAY_FUZZ_CLANG} -fsanitize=fuzzer,address,undefined ${_probe}
                          -o ${_probe}.out
                  RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT _rc EQUAL 0)
    set(_why "${FRAY_FUZZ_CLANG} cannot link -fsanitize=fuzzer (libclang-rt-14-dev missing?)")
  endif()
endif()
if(_why)
  set(FRAY_FUZZ_DRIVER_MISSING "${_why}" CACHE INTERNAL "why fray-fuzz-plugin is not built")
  message(STATUS "  fray fuzz      : no driver (${_why})")
  return()
endif()
unset(FRAY_FUZZ_DRIVER_MISSING CACHE)

set(FRAY_FUZZ_DRIVER ${PROJECT_BINARY_DIR}/fray-fuzz-plugin)
set(_src ${PROJECT_SOURCE_DIR}/targets/fray_fuzz_main.c ${PROJECT_SOURCE_DIR}/targets/plugin_repro.c
         ${PROJECT_SOURCE_DIR}/harness/cli/handlers.c)
add_custom_command(OUTPUT ${FRAY_FUZZ_DRIVER}
  COMMAND ${FRAY_FUZZ_CLANG} -std=c11 -g -O1 -D_DEFAULT_SOURCE -DFRAY_FUZZ_DLOPEN=1
          -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION=1
          -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
          -I${PROJECT_SOURCE_DIR}/harness/include -I${FRAY_GENERATED_INCLUDE_DIR}
          -I${PROJECT_SOURCE_DIR}/harness/cli -I${PROJECT_SOURCE_DIR}/targets
          ${_src} -o ${FRAY_FUZZ_DRIVER} -rdynamic
          -Wl,--whole-archive $<TARGET_FILE:fray_static> -Wl,--no-whole-archive
          ${PCRE2_LINK_LIBRARIES} -ldl
  DEPENDS ${_src} fray_static ${PROJECT_SOURCE_DIR}/targets/session_target.h
          ${PROJECT_SOURCE_DIR}/targets/plugin_repro.h ${PROJECT_SOURCE_DIR}/harness/cli/handlers.h
  COMMENT "Linking the fray fuzz driver with ${FRAY_FUZZ_CLANG} (libFuzzer)" VERBATIM)
add_custom_target(fray_fuzz_plugin_driver ALL DEPENDS ${FRAY_FUZZ_DRIVER})
install(PROGRAMS ${FRAY_FUZZ_DRIVER} DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/fray)
target_compile_definitions(fray_cli PRIVATE
  FRAY_FUZZ_DRIVER_REL="${CMAKE_INSTALL_LIBEXECDIR}/fray/fray-fuzz-plugin")
message(STATUS "  fray fuzz      : ${FRAY_FUZZ_DRIVER} (${FRAY_FUZZ_CLANG})")
