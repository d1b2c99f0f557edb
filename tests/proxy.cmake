# fray proxy and fray import-pcap (harness/cli/proxy.c, import_pcap.c,
# harness/src/session/pcap.c): real loopback traffic, recorded and captured,
# then replayed. Every entry has the label `net`.
if(NOT TARGET fray_cli)
  return()
endif()

# The fray command links libpcap (harness/cli/CMakeLists.txt) and libevent
# through fray_event; libfray links neither.

set(_proxy_check ${PROJECT_SOURCE_DIR}/tests/proxy/check.sh)
set(_proxy_work ${PROJECT_BINARY_DIR}/tests/proxy-work)
find_program(FRAY_PYTHON3 python3)

# Registers one check.sh run as ctest entry NAME (label net). Exit 77 is a
# visible SKIP (capturing needs root or CAP_NET_RAW).
function(fray_proxy_check name timeout check)
  add_test(NAME ${name}
    COMMAND sh ${_proxy_check} ${check} $<TARGET_FILE:fray_cli> ${PROJECT_SOURCE_DIR}
            ${_proxy_work}/${name} ${ARGN})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout} LABELS net SKIP_RETURN_CODE 77)
endfunction()

if(PCAP_FOUND)
  fray_proxy_check(net.import_pcap.errors 60 import-errors)
  # The capture helper records loopback traffic with libpcap's own API.
  add_executable(fray_test_capture ${PROJECT_SOURCE_DIR}/tests/proxy/capture.c)
  target_compile_options(fray_test_capture PRIVATE ${FRAY_WARNINGS})
  target_compile_definitions(fray_test_capture PRIVATE _DEFAULT_SOURCE)
  target_link_libraries(fray_test_capture PRIVATE PkgConfig::PCAP)
  if(FRAY_PYTHON3)
    fray_proxy_check(net.import_pcap.loopback_capture 120 pcap-capture
      $<TARGET_FILE:fray_test_capture>)
  endif()
endif()

if(TARGET fray_event AND FRAY_PYTHON3)
  fray_proxy_check(net.proxy.record.passthrough 120 proxy-record)
  fray_proxy_check(net.proxy.record.random 120 proxy-record --split random --seed 7)
  fray_proxy_check(net.proxy.record.bytewise 120 proxy-record --split bytewise --delay 1 --split-both)
  fray_proxy_check(net.proxy.record.merge 120 proxy-record --merge --delay 5 --split 3)
  fray_proxy_check(net.proxy.record.sigterm 120 proxy-sigterm)
  fray_proxy_check(net.proxy.errors 120 proxy-errors)
  fray_proxy_check(net.proxy.limits 60 proxy-limits)
  fray_proxy_check(net.proxy.record.safe 60 proxy-record-safe)
  # Byte-exact bulk transfer (SHA-256 both ways): 64 MiB here; the 1 GiB
  # run is by hand (docs/proxy-pcap.md).
  fray_proxy_check(net.proxy.bulk.passthrough 300 proxy-bulk 67108864)
  fray_proxy_check(net.proxy.bulk.random 300 proxy-bulk 67108864 --split random --split-both)
endif()
