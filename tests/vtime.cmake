# unit.vtime runs corpus/chat_idle/ against the chat example, which lives in
# the fray_examples library.
if(TARGET test_vtime AND TARGET fray_examples)
  target_link_libraries(test_vtime PRIVATE fray_examples)
endif()
