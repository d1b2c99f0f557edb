# unit.supervise (tests/test_supervise.c) isolates campaigns against the
# bundled example handlers, which live in the fray_examples library.
if(TARGET test_supervise)
  target_link_libraries(test_supervise PRIVATE fray_examples)
endif()
