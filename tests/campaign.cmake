# unit.campaign (tests/test_campaign.c) runs campaigns against the bundled
# example handlers, which live in the fray_examples library.
if(TARGET test_campaign)
  target_link_libraries(test_campaign PRIVATE fray_examples)
endif()
