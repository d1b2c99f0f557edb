# Command lines of fray doctor, import-pcap, serve and proxy, read through the
# shared reader (harness/cli/opts.c): `--opt=value`, `--` ending the options,
# `-` as an operand, and usage errors as `fray CMD: ... (see fray CMD --help)`
# with exit 2 (label cli). None of these opens a socket: the serve and proxy
# cases all stop at a usage error, before anything is bound.
if(NOT TARGET fray_cli)
  return()
endif()

# fray_cli_opts_case(NAME RC STDERR_ERE ARGS...): runs `fray ARGS...` and
# passes only if the exit status is RC and stderr matches the grep -E pattern
# STDERR_ERE. stderr and the status are printed either way, so a failure
# shows what came out. (The script has no `;`: CMake would split it there.)
function(fray_cli_opts_case name rc stderr_re)
  add_test(NAME cli.opts.${name}
           COMMAND sh -c [=[
w=$1 r=$2 && shift 2 && rc=0 && err=$("$0" "$@" 2>&1 >/dev/null) || rc=$?
printf 'exit %s, stderr:\n%s\n' "$rc" "$err"
test "$rc" = "$w" || { echo "FAIL: exit $rc, want $w" && exit 1
}
printf '%s\n' "$err" | grep -Eq -- "$r" || { echo "FAIL: stderr does not match: $r" && exit 1
}
]=] $<TARGET_FILE:fray_cli> ${rc} ${stderr_re} ${ARGN})
  set_tests_properties(cli.opts.${name} PROPERTIES TIMEOUT 30 LABELS cli)
endfunction()

# fray doctor: an unknown option, and `--` making `--json` an operand (which
# doctor does not take). Both stop before any check runs.
fray_cli_opts_case(doctor.unknown_option 2
  "^fray doctor: unknown option '--bogus' \\(see fray doctor --help\\)$" doctor --bogus)
fray_cli_opts_case(doctor.after_dashdash 2
  "^fray doctor: unexpected argument '--json' \\(see fray doctor --help\\)$" doctor -- --json)

# fray import-pcap: a bad port given as --opt=value is named with its value;
# a missing value names the option (short -o included). Checked before the
# capture is opened, so this holds with or without libpcap.
fray_cli_opts_case(import_pcap.bad_port_equals 2
  "^fray import-pcap: --server-port: '0' is not a port \\(1-65535\\) \\(see fray import-pcap --help\\)$"
  import-pcap --server-port=0 x.pcap)
fray_cli_opts_case(import_pcap.bad_port 2
  "^fray import-pcap: --server-port: '65536' is not a port" import-pcap x.pcap --server-port 65536)
fray_cli_opts_case(import_pcap.o_needs_value 2
  "^fray import-pcap: option -o needs a value \\(see fray import-pcap --help\\)$" import-pcap x.pcap -o)
fray_cli_opts_case(import_pcap.two_files 2
  "^fray import-pcap: one capture file at a time \\('a.pcap' and '-'\\)" import-pcap a.pcap -)

# import-pcap on a real capture. corpus/captures/ holds raw byte streams, not
# pcap files, so the capture is the one tests/proxy/mkpcap.py writes (one
# session on port 6379). Every new form must give the script the classic
# form gives: `--opt=value`, `-o=F`, `--output=F`, `--` before the file, and
# `-` (stdin) as the file.
if(TARGET PkgConfig::PCAP)
  find_program(FRAY_PYTHON3 python3)
  if(FRAY_PYTHON3)
    set(_opts_work ${PROJECT_BINARY_DIR}/tests/cli-opts-work)
    add_test(NAME cli.opts.import_pcap.forms
             COMMAND sh -c [=[
f=$0 py=$1 src=$2 d=$3 && rm -rf "$d" && mkdir -p "$d" && cd "$d" || exit 1
"$py" "$src/tests/proxy/mkpcap.py" . || exit 1
"$f" import-pcap good.pcap --server-port 6379 -o classic.fray 2>classic.err || { cat classic.err && exit 1
}
grep -q '^c1 > "PING\\r\\n"$' classic.fray || { echo "FAIL: classic.fray has no PING" && cat classic.fray && exit 1
}
"$f" import-pcap --server-port=6379 -- good.pcap >dashdash.fray 2>err || { cat err && echo "FAIL: --server-port=6379 -- good.pcap" && exit 1
}
"$f" import-pcap --server-port=6379 -o=short.fray good.pcap 2>err || { cat err && echo "FAIL: -o=F" && exit 1
}
"$f" import-pcap --output=long.fray --server-port 6379 good.pcap 2>err || { cat err && echo "FAIL: --output=F" && exit 1
}
"$f" import-pcap --server-port=6379 - <good.pcap >stdin.fray 2>err || { cat err && echo "FAIL: - as the capture" && exit 1
}
for o in dashdash short long stdin
do cmp classic.fray "$o.fray" || { echo "FAIL: $o.fray differs from classic.fray" && exit 1
}
done
echo ok
]=] $<TARGET_FILE:fray_cli> ${FRAY_PYTHON3} ${PROJECT_SOURCE_DIR} ${_opts_work})
    set_tests_properties(cli.opts.import_pcap.forms PROPERTIES TIMEOUT 30 LABELS cli
                         PASS_REGULAR_EXPRESSION "(^|\n)ok\n")
  endif()
endif()

# One HOST:PORT reader for every address option (fray/addr.h): a port out
# of range, junk, a missing port or unbalanced brackets is a usage error
# (exit 2) naming the value, in every command, before any socket is opened.
# 65537 and 99999 once wrapped around in `replay --connect` (to ports 1 and
# 34463) and passed. Port 0 means "pick one" only where listening.
set(_addr_bad_values 127.0.0.1:0 127.0.0.1:65537 127.0.0.1:99999 127.0.0.1:x "[::1")
set(_addr_bad_why "the port is not in 1-65535" "the port is not in [01]-65535"
                  "the port is not in [01]-65535" "the port is not a decimal number"
                  "'\\[' without a closing '\\]' \\(want \\[IPV6\\]:PORT\\)")
set(_addr_bad_names 0 65537 99999 x bracket)
# fray_cli_addr_cases(CMD OPT WHAT FIRST ARGS...): runs `fray CMD ARGS...
# OPT VALUE` for the bad values from index FIRST on (1 skips port 0, which
# listening accepts: 0-65535 there); WHAT is "" or "listen " as the message says.
function(fray_cli_addr_cases cmd opt what first)
  foreach(i RANGE ${first} 4)
    list(GET _addr_bad_values ${i} v)
    list(GET _addr_bad_why ${i} why)
    list(GET _addr_bad_names ${i} n)
    string(REPLACE "[" "\\[" v_re "${v}")
    string(REPLACE "." "\\." v_re "${v_re}")
    string(REGEX REPLACE "^--" "" o "${opt}")
    fray_cli_opts_case(${cmd}.${o}.${n} 2
      "^fray ${cmd}: ${opt}: bad ${what}address '${v_re}': ${why} \\(see fray ${cmd} --help\\)$"
      ${cmd} ${ARGN} ${opt} "${v}")
  endforeach()
endfunction()
fray_cli_addr_cases(replay --connect "" 0 x.fray)

# One spelling of values everywhere (harness/cli/opts.c): times are
# milliseconds with an optional unit (2000, 2000ms, 2s), older spellings
# (--timeout-ms, --pace-ms) still work, seeds are decimal or 0x hex. The
# accepted forms run a replay in-process; a wrong value names the option as
# typed and the value.
set(_opts_chat ${PROJECT_SOURCE_DIR}/corpus/chat/session.fray)
foreach(form "--timeout;2s" "--timeout;2000" "--timeout;2000ms" "--timeout-ms;2000"
             "--pace;0.002s" "--pace-ms;2" "--seed;0x10" "--seed;18446744073709551615")
  list(GET form 0 o)
  list(GET form 1 v)
  string(REGEX REPLACE "^--" "" n "${o}.${v}")
  # In the simulator, --timeout and --pace are accepted and said to do
  # nothing (replay warns of every ignored option); --seed is silent.
  string(REGEX REPLACE "^(--[a-z]+).*" "\\1" canon "${o}")
  set(want "^$")
  if(NOT o MATCHES "^--seed")
    set(want "^fray replay: warning: ${canon} is ignored: ")
  endif()
  fray_cli_opts_case(replay.accepts.${n} 0 "${want}"
    replay --handler chat --schedule random --runs 2 ${o} ${v} ${_opts_chat})
endforeach()
fray_cli_opts_case(replay.timeout_bad_unit 2
  "^fray replay: --timeout needs a time from 1 to 3600000 ms \\(N milliseconds, Nms or Ns\\), not '2x' \\(see fray replay --help\\)$"
  replay --timeout 2x x.fray)
fray_cli_opts_case(replay.timeout_ms_zero 2
  "^fray replay: --timeout-ms needs a time from 1 to 3600000 ms .*, not '0'" replay --timeout-ms 0 x.fray)
fray_cli_opts_case(replay.pace_too_long 2
  "^fray replay: --pace needs a time from 0 to 3600000 ms .*, not '3601s'" replay --pace=3601s x.fray)
fray_cli_opts_case(replay.seed_negative 2
  "^fray replay: --seed needs a seed \\(decimal, or hex after 0x, up to 64 bits\\), not '-1' \\(see fray replay --help\\)$"
  replay --seed -1 x.fray)
fray_cli_opts_case(replay.seed_hex_overflow 2
  "^fray replay: --seed needs a seed .*, not '0x1ffffffffffffffff'" replay --seed 0x1ffffffffffffffff x.fray)
fray_cli_opts_case(replay.runs_zero 2
  "^fray replay: --runs needs a count of at least 1, not '0' \\(see fray replay --help\\)$"
  replay --runs 0 x.fray)
fray_cli_opts_case(replay.max_cuts_range 2
  "^fray replay: --max-cuts needs a count from 1 to 64, not '65'" replay --max-cuts 65 x.fray)

# fray serve and fray proxy exist only with libevent (tests/net.cmake).
if(NOT TARGET fray_event)
  return()
endif()

fray_cli_opts_case(serve.listen_needs_value 2
  "^fray serve: option --listen needs a value \\(see fray serve --help\\)$" serve --handler echo --listen)
fray_cli_opts_case(serve.bad_value_equals 2
  "^fray serve: --max-conns needs a count of at least 1, not '0' \\(see fray serve --help\\)$"
  serve --handler=echo --listen=127.0.0.1:0 --max-conns=0)
fray_cli_opts_case(serve.unknown_option 2
  "^fray serve: unknown option '--bogus' \\(see fray serve --help\\)$" serve --handler echo --bogus)
fray_cli_opts_case(serve.flag_with_value 2
  "^fray serve: unknown option '--verbose=1' \\(or one that takes no value\\)" serve --verbose=1)

fray_cli_opts_case(proxy.split_equals_bogus 2
  "^fray proxy: --split: expected none, random, bytewise or a size in bytes, got 'bogus' \\(see fray proxy --help\\)$"
  proxy --listen=127.0.0.1:0 --upstream=127.0.0.1:9 --split=bogus)
fray_cli_opts_case(proxy.operand 2
  "^fray proxy: unexpected argument 'extra' \\(see fray proxy --help\\)$"
  proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 -- extra)
fray_cli_opts_case(proxy.seed_needs_value 2
  "^fray proxy: option --seed needs a value \\(see fray proxy --help\\)$"
  proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --seed)

fray_cli_addr_cases(serve --listen "listen " 1 --handler echo)
fray_cli_addr_cases(proxy --listen "listen " 1 --upstream 127.0.0.1:9)
fray_cli_addr_cases(proxy --upstream "" 0 --listen 127.0.0.1:0)

# Times, seeds and counts in serve and proxy, new and old spellings.
fray_cli_opts_case(serve.idle_zero 2
  "^fray serve: --idle needs a time from 1 to 2147483647 ms .*, not '0'" serve --handler echo --idle 0)
fray_cli_opts_case(serve.idle_timeout_bad 2
  "^fray serve: --idle-timeout needs a time from 1 to 2147483647 ms \\(N seconds, Nms or Ns\\), not 'soon'"
  serve --handler echo --idle-timeout soon)
fray_cli_opts_case(proxy.timeout_zero 2
  "^fray proxy: --timeout needs a time from 1 to 3600000 ms .*, not '0ms'"
  proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --timeout 0ms)
fray_cli_opts_case(proxy.connect_timeout_too_long 2
  "^fray proxy: --connect-timeout needs a time from 1 to 3600000 ms \\(N seconds, Nms or Ns\\), not '3601'"
  proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --connect-timeout 3601)
fray_cli_opts_case(proxy.delay_too_long 2
  "^fray proxy: --delay needs a time from 0 to 60000 ms .*, not '61s'"
  proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --delay 61s)
fray_cli_opts_case(proxy.seed_octal_junk 2
  "^fray proxy: --seed needs a seed .*, not '1x'" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --seed 1x)
fray_cli_opts_case(proxy.max_conns_zero 2
  "^fray proxy: --max-conns needs a count of at least 1, not '0'"
  proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --max-conns 0)
fray_cli_opts_case(proxy.exit_after_zero 2
  "^fray proxy: --exit-after needs a count of at least 1, not '0'"
  proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --exit-after 0)
