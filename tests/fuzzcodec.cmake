# fray fuzz-encode / fuzz-decode: every corpus script that encodes without
# loss decodes into a session that replays the same (passes whole, as the
# script does). AFLNet decoding is unit-tested in tests/test_fuzz.c.
add_test(NAME fuzzcodec.roundtrip-corpus
  COMMAND ${CMAKE_COMMAND} -DFRAY=$<TARGET_FILE:fray_cli> -DSRC=${PROJECT_SOURCE_DIR}
    -DOUT=${CMAKE_CURRENT_BINARY_DIR}/fuzzcodec
    -P ${CMAKE_CURRENT_SOURCE_DIR}/replay/fuzz_roundtrip.cmake)
set_tests_properties(fuzzcodec.roundtrip-corpus PROPERTIES TIMEOUT 120 LABELS "fuzz;cli")

# fuzz-decode --answers: decoded sessions with the handler's answers as
# expectations pass random schedules for the correct handlers.
add_test(NAME fuzzcodec.answers-corpus
  COMMAND ${CMAKE_COMMAND} -DFRAY=$<TARGET_FILE:fray_cli> -DSRC=${PROJECT_SOURCE_DIR}
    -DOUT=${CMAKE_CURRENT_BINARY_DIR}/fuzzcodec-answers -DMODE=answers
    -P ${CMAKE_CURRENT_SOURCE_DIR}/replay/fuzz_roundtrip.cmake)
set_tests_properties(fuzzcodec.answers-corpus PROPERTIES TIMEOUT 120 LABELS "fuzz;cli")
