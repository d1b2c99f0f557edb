# fray import-pcap on captures that once lost data silently or let a later
# copy of a byte win (tests/pcap/README.md). Needs the fray command with
# libpcap.
if(NOT TARGET fray_cli OR NOT PCAP_FOUND)
  return()
endif()
add_test(NAME net.import_pcap.losses
  COMMAND sh ${PROJECT_SOURCE_DIR}/tests/pcap/check.sh $<TARGET_FILE:fray_cli>
          ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/tests/pcap-work)
set_tests_properties(net.import_pcap.losses PROPERTIES TIMEOUT 60 LABELS "net;cli")
