# unit.event: cmocka tests of the libevent adapter (tests/event/test_event.c)
# on real loopback sockets. The file sits outside the tests/test_*.c glob
# because it needs fray_event, which exists only with FRAY_WITH_LIBEVENT=ON;
# without it the test is not built at all.
if(NOT TARGET fray_event)
  return()
endif()

add_executable(test_event ${CMAKE_CURRENT_LIST_DIR}/event/test_event.c)
target_compile_options(test_event PRIVATE ${FRAY_WARNINGS})
target_compile_definitions(test_event PRIVATE _DEFAULT_SOURCE)
# fray_event brings libfray and libevent (event2/ headers).
target_link_libraries(test_event PRIVATE fray_event PkgConfig::CMOCKA)
add_test(NAME unit.event COMMAND test_event)
# About 2 s when run alone; the margin is for sanitizer builds on a busy machine.
# RUN_SERIAL: its timeouts (idle, stop) are real time; sharing the two cores
# with other tests under sanitizers made a slow reader look idle.
set_tests_properties(unit.event PROPERTIES TIMEOUT 60 LABELS "unit;net" RUN_SERIAL TRUE)
