# fuzz.uaf: under ASan, a handler's use of a released connection is reported
# from inside the fuzz driver (tests/fuzz_uaf.c). Only in ASan builds: the
# program reads freed memory on purpose.
if(FRAY_ENABLE_ASAN)
  add_executable(fuzz_uaf ${CMAKE_CURRENT_LIST_DIR}/fuzz_uaf.c)
  target_compile_options(fuzz_uaf PRIVATE ${FRAY_WARNINGS})
  target_link_libraries(fuzz_uaf PRIVATE fray_internal)
  add_test(NAME fuzz.uaf COMMAND fuzz_uaf)
  set_tests_properties(fuzz.uaf PROPERTIES TIMEOUT 60 LABELS fuzz
                       PASS_REGULAR_EXPRESSION "heap-use-after-free")
endif()
