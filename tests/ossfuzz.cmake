# The OSS-Fuzz / ClusterFuzzLite builder, played without Docker
# (tests/ossfuzz/builder.sh): fray's own build.sh (scripts/oss-fuzz-build.sh)
# for each engine and sanitizer this machine has. Registered in the fuzzer
# build (-DFRAY_BUILD_FUZZERS=ON, CI's clang stage) only, like the other
# fuzzing-script tests: each configuration compiles libfray again with its
# own flags whatever the build's compiler, so running them in every build
# would only repeat the same minutes. Outputs are checked (sanitizer
# and coverage symbols, seed zips, .dict, .options) and each target runs for
# a bounded time. Then scripts/fuzz.sh --jobs 2 on the built binaries:
# libFuzzer -fork and AFL++ -M/-S on one sync directory, plus the
# several-machines recipe of docs/fuzzing-at-scale.md.
#
# Time: every configuration compiles libfray again. FRAY_OSSFUZZ_TARGETS
# (default "chat framer": one handler target, one library target, so both
# archives of the build are exercised, in the libFuzzer+ASan build; the
# other configurations build chat alone) bounds it; "all" builds every
# target everywhere. fuzz_chat must be among them.
find_program(FRAY_CLANG_FOR_OSSFUZZ clang)
set(FRAY_OSSFUZZ_TARGETS "chat framer" CACHE STRING
    "Targets the ossfuzz.* tests build per configuration (\"all\": every one)")
if(FRAY_CLANG_FOR_OSSFUZZ AND FRAY_BUILD_FUZZERS)
  set(_fo ${PROJECT_BINARY_DIR}/ossfuzz)
  set(_fo_targets "${FRAY_OSSFUZZ_TARGETS}")
  if(_fo_targets STREQUAL "all")
    set(_fo_targets "")
  endif()
  # AFL++ with ASan only, as ClusterFuzz runs it.
  foreach(cfg libfuzzer:address libfuzzer:undefined libfuzzer:memory afl:address honggfuzz:address)
    string(REPLACE ":" ";" cfgl ${cfg})
    list(GET cfgl 0 engine)
    list(GET cfgl 1 san)
    set(t ossfuzz.fray.${engine}.${san})
    # Both of libfray's archives in one configuration; the handler target
    # alone in the others.
    set(targets "${_fo_targets}")
    if(NOT cfg STREQUAL "libfuzzer:address" AND NOT FRAY_OSSFUZZ_TARGETS STREQUAL "all")
      set(targets chat)
    endif()
    add_test(NAME ${t}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/ossfuzz/builder.sh --engine ${engine}
                     --sanitizer ${san} --project ${PROJECT_SOURCE_DIR} --name fray
                     --build-sh ${CMAKE_CURRENT_SOURCE_DIR}/ossfuzz/fray-build.sh
                     --work ${_fo}/${engine}-${san} --expect fuzz_chat
                     --then ${CMAKE_CURRENT_SOURCE_DIR}/ossfuzz/fray-split.sh)
    # ~15-30 s of CPU each; 2-4 min on a 2-core machine loaded by other
    # builds, hence the timeout.
    set_tests_properties(${t} PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS "ossfuzz"
                         ENVIRONMENT "FRAY_OSS_FUZZ_TARGETS=${targets};FRAY_BUILD_JOBS=2"
                         FIXTURES_SETUP ossfuzz_${engine}_${san})
  endforeach()
  # fuzz.sh --jobs 2 on what the address builds produced.
  foreach(engine libfuzzer afl)
    add_test(NAME ossfuzz.jobs.${engine}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/ossfuzz/jobs.sh ${engine}
                     ${_fo}/${engine}-address/out/fuzz_chat ${_fo}/jobs-${engine})
    set_tests_properties(ossfuzz.jobs.${engine} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                         LABELS "ossfuzz" FIXTURES_REQUIRED ossfuzz_${engine}_address)
  endforeach()
endif()
