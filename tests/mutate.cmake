# fray replay --mutate: malformed variants. The trusted-length bug of
# examples/buggy/ is found through the memory oracle within a bounded number
# of variants, with its reproducer written; the good handlers' corpora stay
# clean under the same budget (no crash, canary answered, memory bounded).
file(GLOB FRAY_GOOD_SCRIPTS CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/corpus/echo/*.fray ${PROJECT_SOURCE_DIR}/corpus/chat/*.fray
  ${PROJECT_SOURCE_DIR}/corpus/http/*.fray ${PROJECT_SOURCE_DIR}/corpus/resp/*.fray
  ${PROJECT_SOURCE_DIR}/corpus/lenrpc/*.fray)
add_test(NAME mutate.good-handlers-clean
  COMMAND fray_cli replay --mutate 300 --seed 1 ${FRAY_GOOD_SCRIPTS})
set_tests_properties(mutate.good-handlers-clean PROPERTIES TIMEOUT 120 LABELS "replay;mutate")

add_test(NAME mutate.trustlen-found
  COMMAND ${CMAKE_COMMAND}
    -DFRAY=$<TARGET_FILE:fray_cli>
    -DSCRIPT=${PROJECT_SOURCE_DIR}/corpus/buggy/trustlen.fray
    -DOUT=${CMAKE_CURRENT_BINARY_DIR}/mutate-trustlen
    -P ${CMAKE_CURRENT_SOURCE_DIR}/replay/mutate_found.cmake)
set_tests_properties(mutate.trustlen-found PROPERTIES TIMEOUT 120 LABELS "replay;mutate")
# Under sanitizers the heap oracle is silent (their allocators answer
# mallinfo2 with zeros): ASan's own allocation limits take over there.
if(FRAY_SANITIZE)
  set_tests_properties(mutate.trustlen-found PROPERTIES DISABLED TRUE)
endif()
