# Fuzzing a user's own handler (docs/fuzzing.md), as a user does it:
#   fuzzplug.encode           fuzz-encode's notes and refusals (encode.sh)
#   fuzzplug.wcsplit          a bug only a half-close shows survives the fuzz
#                             encoding (wcsplit.sh)
#   fuzzplug.fray_fuzz        `fray fuzz --plugin` on a planted-bug plugin and
#                             its correct twin (tests/fuzzplug/fuzz.sh split)
#   fuzzplug.fray_fuzz_crash  the same on a planted crash (fuzz.sh crash)
#   fuzzplug.cmake_function   a user's project using fray_add_fuzz_target()
#                             from the installed package (project.sh), and
#   fuzzplug.cmake_function_afl  the same with ENGINE afl (AFL++)
# Both need clang's libFuzzer; without it they are skipped with the reason
# targets/plugin_driver.cmake found (exit 77).
if(NOT TARGET fray_cli)
  return()
endif()
add_test(NAME fuzzplug.encode
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzzplug/encode.sh $<TARGET_FILE:fray_cli>
    ${CMAKE_CURRENT_SOURCE_DIR}/fuzzplug ${CMAKE_CURRENT_BINARY_DIR}/fuzzplug-encode)
set_tests_properties(fuzzplug.encode PROPERTIES TIMEOUT 60 LABELS "fuzz;cli")
# The half-close measurement's handler (docs/fuzzing.md), built plain.
add_library(fray_plugin_wcsplit MODULE ${CMAKE_CURRENT_SOURCE_DIR}/fuzzplug/wcsplit.c)
set_target_properties(fray_plugin_wcsplit PROPERTIES PREFIX "" OUTPUT_NAME wcsplit
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
target_include_directories(fray_plugin_wcsplit PRIVATE ${PROJECT_SOURCE_DIR}/harness/include
  ${FRAY_GENERATED_INCLUDE_DIR})
target_compile_options(fray_plugin_wcsplit PRIVATE ${FRAY_WARNINGS})
add_test(NAME fuzzplug.wcsplit
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzzplug/wcsplit.sh $<TARGET_FILE:fray_cli>
    $<TARGET_FILE:fray_plugin_wcsplit> ${PROJECT_SOURCE_DIR}
    ${CMAKE_CURRENT_BINARY_DIR}/fuzzplug-wcsplit)
set_tests_properties(fuzzplug.wcsplit PROPERTIES TIMEOUT 60 LABELS "fuzz;cli")
set(_fp_skip "")
if(DEFINED FRAY_FUZZ_DRIVER_MISSING)
  set(_fp_skip "${FRAY_FUZZ_DRIVER_MISSING}")
endif()
set(_fp_clang "${FRAY_FUZZ_CLANG}")
if(NOT _fp_clang)
  set(_fp_clang clang)
endif()
foreach(mode split crash)
  set(name fuzzplug.fray_fuzz)
  if(mode STREQUAL "crash")
    set(name fuzzplug.fray_fuzz_crash)
  endif()
  add_test(NAME ${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzzplug/fuzz.sh ${mode} $<TARGET_FILE:fray_cli>
      ${CMAKE_CURRENT_SOURCE_DIR}/fuzzplug
      "${PROJECT_SOURCE_DIR}/harness/include ${FRAY_GENERATED_INCLUDE_DIR}"
      ${CMAKE_CURRENT_BINARY_DIR}/fuzzplug-${mode} ${_fp_clang} "${_fp_skip}")
  set_tests_properties(${name} PROPERTIES TIMEOUT 120)
endforeach()
add_test(NAME fuzzplug.cmake_function
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzzplug/project.sh ${PROJECT_BINARY_DIR}
    ${CMAKE_CURRENT_BINARY_DIR}/fuzzplug-project ${_fp_clang} "${_fp_skip}")
# The same project under AFL++ (ENGINE afl): needs afl-clang-fast and
# afl-fuzz, and a libfray clang-compatible as for libFuzzer.
find_program(FRAY_AFL_CC afl-clang-fast)
find_program(FRAY_AFL_FUZZ afl-fuzz)
set(_fp_afl_skip "${_fp_skip}")
if(NOT FRAY_AFL_CC OR NOT FRAY_AFL_FUZZ)
  set(_fp_afl_skip "no afl-clang-fast or afl-fuzz (AFL++)")
endif()
add_test(NAME fuzzplug.cmake_function_afl
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzzplug/project.sh ${PROJECT_BINARY_DIR}
    ${CMAKE_CURRENT_BINARY_DIR}/fuzzplug-project-afl "${FRAY_AFL_CC}" "${_fp_afl_skip}" afl)
set_tests_properties(fuzzplug.cmake_function_afl PROPERTIES TIMEOUT 300)
set_tests_properties(fuzzplug.fray_fuzz fuzzplug.fray_fuzz_crash fuzzplug.cmake_function
  fuzzplug.cmake_function_afl PROPERTIES SKIP_RETURN_CODE 77 LABELS "fuzz;cli")
set_tests_properties(fuzzplug.cmake_function PROPERTIES TIMEOUT 300)
