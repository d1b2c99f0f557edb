# Fuzz targets as ordinary tests (label fuzz), in every build, gcc included:
# each targets/fuzz_<name>.c is linked with targets/standalone_main.c (which
# replays files, each in an exact-size malloc) against the normal libfray,
# and run over its committed seeds (fuzz.seeds.<name>) and over its crash
# reproducers in corpus/regressions/fuzz_<name>/ (fuzz.regress.<name>), so
# old crashes never come back. Under -DFRAY_ENABLE_ASAN=ON these replays run
# with the sanitizers, as the fuzzers did.
#
# Targets of examples/buggy/ handlers (fuzz_buggy_*, fuzz_naive_*) are
# skipped: finding their bugs is the point.
#
# The libFuzzer smoke runs (fuzz.smoke.<name>) are registered by
# targets/CMakeLists.txt, which knows the engine, when -DFRAY_BUILD_FUZZERS=ON.
file(GLOB _fray_replay_targets CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/targets/fuzz_*.c)
foreach(src ${_fray_replay_targets})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${name})
  # Targets of deliberately buggy handlers crash by design: their checks are
  # elsewhere (tests/fuzz_power.cmake), not here.
  if(short MATCHES "^(buggy|naive)_")
    continue()
  endif()
  set(exe replay_${name})
  add_executable(${exe} ${src} ${PROJECT_SOURCE_DIR}/targets/standalone_main.c)
  target_compile_options(${exe} PRIVATE ${FRAY_WARNINGS})
  target_compile_definitions(${exe} PRIVATE FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION=1)
  target_link_libraries(${exe} PRIVATE fray_internal)
  if(NOT short MATCHES "^(framer|script|outq)$")
    target_link_libraries(${exe} PRIVATE fray_examples) # handler targets
  endif()

  set(seeds ${PROJECT_SOURCE_DIR}/corpus/${name}/seeds)
  if(EXISTS ${seeds})
    add_test(NAME fuzz.seeds.${short} COMMAND ${exe} ${seeds})
    set_tests_properties(fuzz.seeds.${short} PROPERTIES TIMEOUT 120 LABELS fuzz)
  endif()
  set(regress ${PROJECT_SOURCE_DIR}/corpus/regressions/${name})
  if(EXISTS ${regress})
    add_test(NAME fuzz.regress.${short} COMMAND ${exe} ${regress})
    set_tests_properties(fuzz.regress.${short} PROPERTIES TIMEOUT 120 LABELS fuzz)
  endif()
endforeach()

# The committed seeds must be what scripts/seeds.sh makes from the tree now
# (a corpus script added without regenerating them is caught here).
if(TARGET fray_cli)
  add_test(NAME fuzz.seeds.current
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fuzz_scripts.sh seeds $<TARGET_FILE:fray_cli>
                   ${PROJECT_BINARY_DIR}/seeds-check)
  set_tests_properties(fuzz.seeds.current PROPERTIES TIMEOUT 120 LABELS fuzz)
endif()
