#!/bin/sh
# Contract checks for `fray replay`, one per ctest entry (tests/cli_replay.cmake).
#   check.sh CHECK FRAY SRCDIR WORKDIR [ARGS...]
# Exits 0 when the check holds; otherwise says what differed and exits 1.
set -u
check=$1 fray=$2 src=$3 work=$4
shift 4
here=$src/tests/replay
rm -rf "$work" && mkdir -p "$work" || exit 1

fail() { echo "FAILED: $*" >&2; exit 1; }

# expect_rc WANT CMD...: runs CMD (stdout to $work/out, stderr to $work/err)
# and checks its exit status.
expect_rc() {
  want=$1
  shift
  "$@" >"$work/out" 2>"$work/err"
  rc=$?
  if [ "$rc" != "$want" ]; then
    echo "--- stdout" >&2; cat "$work/out" >&2
    echo "--- stderr" >&2; cat "$work/err" >&2
    fail "exit status $rc, want $want: $*"
  fi
}

# Lines that are neither comments nor blank: a script's length in statements.
statements() { grep -cv '^[[:space:]]*\(#.*\)\{0,1\}$' "$1"; }

# has ERE: $work/out has a line matching it.
has() { grep -Eq -- "$1" "$work/out" || { cat "$work/out" >&2; fail "no line matching: $1"; }; }

# replays FILE as its `# replay:` header line says (exit status WANT).
replay_as_header() {
  line=$(sed -n 's/^# replay: fray //p' "$2")
  [ -n "$line" ] || fail "$2 has no '# replay: fray ...' line"
  eval "expect_rc $1 \"\$fray\" $line"
}

# fault_caught FAULT SCRIPT --plugin|--exec TARGET: with the fault kind on,
# random schedules catch TARGET and the failure names the fault; each
# reproducer saved (in $work/repro) fails again as its replay line says
# (--fault-seed strikes the fault again).
fault_caught() {
  expect_rc 1 "$fray" replay "$3" "$4" --schedule random --faults "$1" --runs 400 \
    --seed 1 --save-failures "$work/repro" "$2"
  grep -q -- "$1" "$work/out" || fail "the failure does not name the fault $1"
  for r in "$work"/repro/*.fray; do replay_as_header 1 "$r"; done
}

# but FAULT KIND...: every KIND but FAULT, comma-separated.
but() {
  local fault=$1 out=""
  shift
  for k; do [ "$k" = "$fault" ] || out="$out$k,"; done
  echo "${out%,}"
}

# The crash isolation checks' plugin and scripts.
plugin=${1:-} faulty=$src/tests/plugin/faulty

case $check in
exit-codes)
  expect_rc 0 "$fray" replay --schedule random --runs 50 "$here/pass.fray"
  grep -qx '1 passed, 0 failed' "$work/out" || fail "no '1 passed, 0 failed' line"
  expect_rc 1 "$fray" replay --schedule whole "$here/fail_whole.fray"
  grep -qx '0 passed, 1 failed' "$work/out" || fail "no '0 passed, 1 failed' line"
  grep -q 'without any splitting' "$work/out" || fail "a whole-schedule failure is not called one"
  grep -q 'fail_whole.fray:7: mismatch' "$work/out" || fail "failure does not name file:line"
  # The caret sits under the first differing byte: "wOrld" vs "world", byte 1.
  awk '/expected: /{e=index($0, "\"")} /\^ first difference/{c=index($0, "^")} END{exit !(e && c == e + 2)}' \
    "$work/out" || fail "caret not under the first differing byte"
  expect_rc 1 "$fray" replay --schedule exhaustive "$here/pass.fray" "$here/split_bug.fray"
  grep -qx '1 passed, 1 failed' "$work/out" || fail "no '1 passed, 1 failed' line"
  expect_rc 2 "$fray" replay "$here/syntax.fray"
  expect_rc 2 "$fray" replay --no-such-option "$here/pass.fray"
  expect_rc 2 "$fray" replay --schedule sideways "$here/pass.fray"
  expect_rc 2 "$fray" replay
  expect_rc 2 "$fray" replay "$here/nohandler.fray"
  grep -q 'no handler' "$work/err" || fail "no 'no handler' message"
  # An input error is neither a pass nor a failure: counted on its own.
  grep -qx '0 passed, 0 failed, 1 input error' "$work/out" || fail "input error counted as: $(tail -n1 "$work/out")"
  expect_rc 2 "$fray" replay "$here/pass.fray" "$here/syntax.fray" "$here/split_bug.fray"
  grep -qx '1 passed, 1 failed, 1 input error' "$work/out" || fail "mixed summary: $(tail -n1 "$work/out")"
  expect_rc 0 "$fray" replay --handler echo --schedule bytewise "$here/nohandler.fray"
  expect_rc 2 "$fray" replay --handler no-such-handler "$here/pass.fray"
  expect_rc 2 "$fray" replay "$here/does-not-exist.fray"
  # The command line wins over @handler, and says so once.
  expect_rc 1 "$fray" replay --handler buggy-oneread --schedule whole "$here/pass.fray" "$here/pass.fray"
  [ "$(grep -c 'using .buggy-oneread. from the command line' "$work/err")" = 1 ] ||
    fail "handler override not reported exactly once"
  expect_rc 0 "$fray" replay --list-handlers
  grep -q '^echo ' "$work/out" || fail "--list-handlers does not list echo"
  ;;
syntax)
  expect_rc 2 "$fray" replay "$here/syntax.fray"
  grep -q 'syntax.fray:4:7: ' "$work/err" || fail "no file:line:column in: $(cat "$work/err")"
  ;;
json)
  expect_rc 2 "$fray" replay --json --keep-going --schedule exhaustive \
    "$here/pass.fray" "$here/split_bug.fray" "$here/syntax.fray"
  python3 -m json.tool --json-lines "$work/out" >/dev/null || fail "--json output is not JSON lines"
  python3 - "$work/out" <<'PY' || fail "--json objects lack fields"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
assert len(objs) == 4, objs
p, f, e, s = objs
assert p["passed"] is True and p["failures"] == [] and p["handler"] == "echo", p
assert f["passed"] is False and f["schedule"] == "exhaustive" and f["runs"] > 1, f
x = f["failures"][0]
for k in ("line", "kind", "schedule", "expected", "got", "reproducer"):
    assert k in x, k
assert x["line"] == 7 and x["kind"] == "mismatch" and "|" in x["schedule"], x
assert "error" in e and ":4:7:" in e["error"], e
assert s["summary"] is True and s["passed"] == 1 and s["failed"] == 1 and s["errors"] == 1, s
PY
  ;;
junit)
  expect_rc 1 "$fray" replay --junit "$work/report.xml" --schedule exhaustive \
    "$here/pass.fray" "$here/split_bug.fray"
  python3 - "$work/report.xml" <<'PY' || fail "--junit did not write the expected XML"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuite" and root.get("tests") == "2" and root.get("failures") == "1"
cases = root.findall("testcase")
assert len(cases) == 2 and cases[0].find("failure") is None
assert cases[1].find("failure") is not None and "split_bug" in cases[1].get("name")
PY
  # Markup characters in a script's path are escaped wherever it appears.
  odd="$work/a<b&c'd\"e>.fray"
  cp "$here/split_bug.fray" "$odd" || fail "cannot copy to $odd"
  expect_rc 1 "$fray" replay --junit "$work/odd.xml" --schedule exhaustive "$odd"
  if command -v xmllint >/dev/null 2>&1; then
    xmllint --noout "$work/odd.xml" || fail "xmllint: --junit wrote malformed XML"
  fi
  python3 - "$work/odd.xml" "$odd" <<'PY' || fail "--junit: malformed XML for a path with markup"
import sys, xml.etree.ElementTree as ET
case = ET.parse(sys.argv[1]).getroot().find("testcase")
assert case.get("name") == sys.argv[2] + " [exhaustive]", case.get("name")
assert case.find("failure").text.startswith(sys.argv[2] + ":7: mismatch"), case.find("failure").text
PY
  ;;
save-failures)
  # The reproducer fails under whole on its own, and is shorter.
  for sched in random exhaustive bytewise; do
    expect_rc 1 "$fray" replay --schedule $sched --save-failures "$work/repro" "$here/split_bug.fray"
    set -- "$work"/repro/split_bug-$sched-*.fray
    [ -f "$1" ] || fail "$sched: no reproducer in $work/repro"
    grep -q "reproducer written to $1" "$work/err" || fail "$sched: reproducer path not said on stderr"
    grep -q '^# found by: fray replay' "$1" || fail "$sched: reproducer has no header comment"
    [ "$(statements "$1")" -lt "$(statements "$here/split_bug.fray")" ] ||
      fail "$sched: reproducer ($(statements "$1") statements) not shorter than the script"
    expect_rc 1 "$fray" replay --schedule whole "$1"
    grep -q 'with the reads it cuts itself' "$work/out" ||
      fail "$sched: reproducer does not fail whole, with its own cuts"
  done
  # A failure without splitting needs no reproducer.
  expect_rc 1 "$fray" replay --save-failures "$work/none" "$here/fail_whole.fray"
  [ -z "$(ls "$work/none" 2>/dev/null)" ] || fail "a whole-schedule failure wrote a reproducer"
  ;;
repro-command)
  # ARGS: the options that choose the target (--handler NAME, --plugin
  # LIB.so, --connect HOST:PORT [--timeout MS]). The `# replay:` line of
  # a reproducer is a command that fails again, the same way.
  expect_rc 1 "$fray" replay "$@" --schedule bytewise --save-failures "$work/repro" \
    "$src/corpus/buggy/splitdelim.fray"
  r=$(sed -n 's/^fray replay: reproducer written to //p' "$work/err" | head -n 1)
  [ -n "$r" ] && [ -f "$r" ] || fail "no reproducer written: $(cat "$work/err")"
  cmd=$(sed -n 's/^# replay: fray //p' "$r")
  [ -n "$cmd" ] || fail "no '# replay: fray ...' line in $r"
  for w in "$@"; do
    case " $cmd " in *" $w "*) ;; *) fail "'# replay: fray $cmd' lacks '$w'" ;; esac
  done
  said=$(sed -n 's/^# failure: .*:[0-9][0-9]*: //p' "$r")
  [ -n "$said" ] || fail "no '# failure:' line in $r"
  eval "expect_rc 1 \"\$fray\" $cmd"
  grep -qF ": $said" "$work/out" ||
    fail "replayed as its header says, $r does not fail with '$said': $(cat "$work/out")"
  ;;
close-unread)
  # ARGS: the options that choose the target (a line server answering
  # PING). Unread bytes fail at the close, on every transport.
  expect_rc 1 "$fray" replay "$@" --schedule whole "$here/close_unread.fray"
  grep -q 'close_unread.fray:13: unexpected: a received "[IO]NG\\r\\n" that no expectation' \
    "$work/out" || fail "unread bytes do not fail at the close: $(cat "$work/out")"
  ! grep -q '^ *expected:' "$work/out" || fail "an unrelated expectation is shown: $(cat "$work/out")"
  expect_rc 1 "$fray" replay "$@" --schedule random --runs 20 "$here/close_unread.fray"
  grep -q 'close_unread.fray:13: unexpected' "$work/out" ||
    fail "random: unread bytes do not fail at the close: $(cat "$work/out")"
  ;;
exec-minimize)
  # ARGS: a tests/exec server. Its droptail twin's failures under --exec
  # come out minimised (fray_exec_factory: each try on a fresh server, as
  # the reproducer is replayed), basic.fray's much smaller than the
  # script; each fails again as its `# replay:` line says, the same way,
  # and passes against the correct twin (no state earlier runs left in the
  # server, such as a key another script's step set, is relied on).
  srv=$1
  expect_rc 1 "$fray" replay --exec "$srv {port} --bug droptail" --schedule random --runs 20 \
    --save-failures "$work/out.d" "$src"/tests/exec/scripts/*.fray
  repro=$work/out.d/basic-random-1.fray
  [ -f "$repro" ] || fail "no reproducer for basic.fray: $(cat "$work/out")"
  before=$(statements "$src/tests/exec/scripts/basic.fray") after=$(statements "$repro")
  echo "basic.fray's reproducer: $after statements of the script's $before"
  [ "$after" -le 3 ] || fail "reproducer not minimised ($after statements): $(cat "$repro")"
  grep -q '^open a$' "$repro" && grep -q '^a > .*|' "$repro" ||
    fail "the reproducer lost its open or its cut: $(cat "$repro")"
  n=0
  for r in "$work"/out.d/*.fray; do
    grep -q '^# Reproducer written by fray replay (minimised:' "$r" ||
      fail "not minimised: $(head -3 "$r")"
    kind=$(sed -n 's/^# failure: .*:[0-9][0-9]*: \([a-z-]*\): .*/\1/p' "$r")
    replay_as_header 1 "$r"
    grep -q "^  .*: $kind: " "$work/out" || fail "$r does not fail with '$kind': $(cat "$work/out")"
    cmd=$(sed -n 's/^# replay: fray //p' "$r" | sed 's/ --bug droptail//')
    eval "expect_rc 0 \"\$fray\" $cmd"
    n=$((n + 1))
  done
  [ "$n" -ge 4 ] || fail "only $n reproducers"
  ;;
unexpected-other)
  expect_rc 1 "$fray" replay --schedule whole "$here/unexpected_other.fray"
  grep -q 'at the end of the script: unexpected: a received "y\\r\\n"' "$work/out" ||
    fail "no unexpected failure for a: $(cat "$work/out")"
  ! grep -q '^ *expected:' "$work/out" || fail "an unrelated expectation is shown: $(cat "$work/out")"
  ;;
replay-all)
  # ARGS: the fixed twin of buggy-oneread/-splitdelim as a plugin, then a
  # tests/exec server (or ""). Every reproducer written fails again, the
  # same kind of way, under the command in its `# replay:` line; where a
  # fixed twin exists it passes against it.
  # Then the fixed twin of buggy-trustlen and buggy-trustlen, as plugins.
  fixed=$1 srv=$2 lenecho=$3 trustlen=$4
  out=$work/r
  for s in "$src"/corpus/buggy/*.fray; do
    case $s in */trustlen.fray) continue ;; esac
    for sched in random exhaustive bytewise; do
      "$fray" replay --schedule $sched --keep-going --save-failures "$out" "$s" >/dev/null 2>&1
    done
  done
  if [ "${FRAY_REPRO_HEAP:-1}" = 1 ]; then
    expect_rc 1 "$fray" replay --mutate 200 --seed 1 --save-failures "$out" \
      "$src/corpus/buggy/trustlen.fray"
    expect_rc 1 "$fray" replay --plugin "$trustlen" --mutate 200 --seed 1 \
      --save-failures "$out/plugin" "$src/corpus/buggy/trustlen.fray"
    for r in "$out"/plugin/*.fray; do
      grep -q "^# replay: fray replay --plugin $trustlen " "$r" || fail "$r: no --plugin in its header"
    done
  fi
  if [ -n "$srv" ]; then
    expect_rc 1 "$fray" replay --exec "$srv {port} --bug droptail" --schedule random --runs 20 \
      --keep-going --save-failures "$out" "$src"/tests/exec/scripts/*.fray
  fi
  n=0 twins=0
  plugin_glob="$out/plugin/*.fray"
  [ "${FRAY_REPRO_HEAP:-1}" = 1 ] || plugin_glob="" # the heap's bound is unseen under sanitizers
  for r in "$out"/*.fray $plugin_glob; do
    [ -f "$r" ] || fail "no reproducer written as $r"
    cmd=$(sed -n 's/^# replay: fray //p' "$r")
    [ -n "$cmd" ] || fail "no '# replay: fray ...' line in $r"
    # A fault the failing run drew is added as the header says ("# it needs
    # short writes: add --short-writes --seed 1 (see the found-by line)").
    needs=$(sed -n 's/^# it needs [^:]*: add \(.*\) (see the found-by line)$/\1/p' "$r")
    [ -z "$needs" ] || cmd="replay $needs ${cmd#replay }"
    # The kind of failure the header names (a mutant's is the heap's bound).
    kind=$(sed -n 's/^# failure: .*:[0-9][0-9]*: \([a-z-]*\): .*/\1/p' "$r")
    [ -n "$kind" ] || kind=bound
    eval "expect_rc 1 \"\$fray\" $cmd"
    grep -q "^  .*: $kind: " "$work/out" ||
      fail "replayed as its header says, $r does not fail with '$kind': $(head -c 2000 "$work/out")"
    n=$((n + 1))
    bare=$(printf '%s' "${cmd#replay }" | sed 's|--plugin [^ ]* ||')
    case $(sed -n 's/^@handler //p' "$r") in
    buggy-oneread | buggy-splitdelim)
      eval "expect_rc 0 \"\$fray\" replay --plugin \"\$fixed\" $bare"
      twins=$((twins + 1)) ;;
    buggy-trustlen)
      eval "expect_rc 0 \"\$fray\" replay --plugin \"\$lenecho\" $bare"
      twins=$((twins + 1)) ;;
    buggy-*)
      # The built-in fixed twin (examples/buggy/twins.h), where there is one.
      h=$(sed -n 's/^@handler buggy-//p' "$r")
      if "$fray" replay --list-handlers | grep -q "^fixed-$h "; then
        eval "expect_rc 0 \"\$fray\" replay --handler fixed-\$h $bare"
        twins=$((twins + 1))
      fi ;;
    esac
    case $cmd in
    *" --bug droptail"*)
      eval "expect_rc 0 \"\$fray\" $(printf '%s' "$cmd" | sed 's/ --bug droptail//')"
      twins=$((twins + 1)) ;;
    esac
  done
  echo "$n reproducers replayed as their headers say, $twins passed against a fixed twin"
  [ "$n" -ge 10 ] && [ "$twins" -ge 3 ] || fail "too few reproducers ($n) or twins ($twins)"
  ;;
plugin)
  # ARGS: the plugin's path, a shared object without the entry point, then
  # scripts.
  so=$1 nosym=$2
  shift 2
  expect_rc 0 "$fray" replay --plugin "$so" --schedule random --runs 200 --seed 1 "$@"
  expect_rc 0 "$fray" replay --plugin "$so" --schedule exhaustive "$@"
  expect_rc 2 "$fray" replay --plugin "$work/missing.so" "$@"
  grep -q 'cannot load plugin' "$work/err" || fail "no message for a missing plugin"
  # A shared object without the entry point is refused with a clear message.
  expect_rc 2 "$fray" replay --plugin "$nosym" "$@"
  grep -q 'does not export fray_plugin_handler' "$work/err" || fail "no message for a missing symbol"
  ;;
buggy)
  # ARGS: scripts of one buggy handler. Each passes whole and fails under
  # some splitting schedule, leaving a reproducer that fails whole.
  for s in "$@"; do
    expect_rc 0 "$fray" replay --schedule whole "$s"
    found=
    for how in "--schedule random --runs 500 --seed 1" "--schedule exhaustive --max-cuts 1" \
               "--schedule random --runs 200 --seed 1 --short-writes" "--schedule bytewise"; do
      # shellcheck disable=SC2086
      "$fray" replay $how --save-failures "$work/repro" "$s" >"$work/out" 2>"$work/err"
      rc=$?
      [ $rc = 2 ] && { cat "$work/err" >&2; fail "$s: error under $how"; }
      if [ $rc = 1 ]; then found=$how; break; fi
    done
    [ -n "$found" ] || fail "$s: no schedule finds the bug"
    echo "$s: found by $found"
    r=$(sed -n 's/^fray replay: reproducer written to //p' "$work/err" | head -n 1)
    [ -n "$r" ] && [ -f "$r" ] || fail "$s: no reproducer written"
    case $found in *short-writes*) continue ;; esac
    # A fault the run drew (short writes, EOF with the data) is not in the
    # script: the reproducer says so, and the whole schedule alone passes it.
    grep -q '^# it needs ' "$r" && continue
    expect_rc 1 "$fray" replay --schedule whole "$r"
  done
  ;;
portfolio)
  # ARGS: one buggy script whose bug only a big coalesced read shows
  # (corpus/buggy/maxread.fray). The random portfolio draws the coalesce
  # family within every 9 runs: caught within 20 runs for >= 8 of 10 seeds,
  # and the failure names the family. Biased cuts alone (today's random
  # before the portfolio) need 65 to over 200 runs.
  caught=0
  for seed in 1 2 3 4 5 6 7 8 9 10; do
    "$fray" replay --schedule random --runs 20 --seed $seed --json "$@" >"$work/out" 2>"$work/err"
    rc=$?
    [ $rc = 2 ] && { cat "$work/err" >&2; fail "error under seed $seed"; }
    [ $rc = 1 ] || continue
    caught=$((caught + 1))
    grep -q '"family":"[a-z]*"' "$work/out" || fail "seed $seed: the failure names no family"
  done
  echo "caught within 20 runs for $caught of 10 seeds"
  [ $caught -ge 8 ] || fail "caught within 20 runs for only $caught of 10 seeds"
  # Off: a run of biased cuts alone, 20 runs, misses it (the seed the
  # portfolio catches it with).
  expect_rc 0 "$fray" replay --schedule biased --runs 20 --seed 1 "$@"
  ;;
families)
  # ARGS: the corpus of correct handlers. No family, with or without the
  # fault kinds, makes any of them fail: no false alarm.
  fams=$("$fray" replay --help | sed -n 's/^    \([a-z]*\)  .*/\1/p')
  [ "$(echo $fams | wc -w)" -ge 10 ] || fail "fray replay --help lists no families: $fams"
  for f in $fams; do
    for faults in all none; do
      expect_rc 0 "$fray" replay --schedule "$f" --faults $faults --runs 100 --seed 1 "$@"
    done
  done
  ;;
faults)
  # ARGS: FAULT BUGGY.so FIXED.so SCRIPT (tests/faults.cmake). The fault kind
  # on catches the buggy handler and the failure names it; every other kind
  # on misses it; the default portfolio (all kinds) catches it too; its fixed
  # twin passes with every kind on.
  fault=$1 buggy=$2 fixed=$3 script=$4
  others=$(but "$fault" short-writes eof-with-data close-mid-send random-close read-gap \
    reset-mid-write)
  fault_caught "$fault" "$script" --plugin "$buggy"
  grep -q "^# it needs the fault kinds $fault," "$work"/repro/*.fray ||
    fail "the reproducer does not say it needs $fault"
  expect_rc 0 "$fray" replay --plugin "$buggy" --schedule random --faults "$others" --runs 200 \
    --seed 1 "$script"
  expect_rc 0 "$fray" replay --plugin "$buggy" --schedule random --faults none --runs 200 \
    --seed 1 "$script"
  expect_rc 1 "$fray" replay --plugin "$buggy" --schedule random --runs 200 --seed 1 "$script"
  expect_rc 0 "$fray" replay --plugin "$fixed" --schedule random --faults all --runs 400 \
    --seed 1 "$script"
  ;;
faults-exec)
  # ARGS: FAULT BUGGY-SERVER-COMMAND CORRECT-SERVER-COMMAND SCRIPT
  # (tests/faults.cmake): the same under --exec, where faults are drawn only
  # when --faults asks. The kind on catches the buggy server and names the
  # fault; without --faults, or with every other kind, it is missed; the
  # correct server passes with every kind on.
  fault=$1 buggy=$2 fixed=$3 script=$4
  others=$(but "$fault" short-writes eof-with-data close-mid-send random-close read-gap \
    reset-mid-write window)
  fault_caught "$fault" "$script" --exec "$buggy"
  grep -q -- "$fault" "$work"/repro/*.fray || fail "the reproducer does not name the fault $fault"
  expect_rc 0 "$fray" replay --exec "$buggy" --schedule random --runs 60 --seed 1 "$script"
  expect_rc 0 "$fray" replay --exec "$buggy" --schedule random --faults "$others" --runs 60 \
    --seed 1 "$script"
  expect_rc 0 "$fray" replay --exec "$fixed" --schedule random --faults all --runs 60 \
    --seed 1 "$script"
  ;;
buggy-coverage)
  # ARGS: the buggy scripts. Every buggy-* handler is named by one of them.
  expect_rc 0 "$fray" replay --list-handlers
  for h in $(awk '/^buggy-/{print $1}' "$work/out"); do
    grep -lq "^@handler $h\$" "$@" /dev/null || fail "no script in corpus/buggy names handler $h"
  done
  ;;
bounds)
  # --max-runs: the plan said up front (computed: what the unbounded run
  # makes), PARTIAL with exit 4, in text, JSON and JUnit alike.
  expect_rc 0 "$fray" replay --json --schedule exhaustive --max-cuts 2 "$here/pass.fray"
  all=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["runs"])' "$work/out")
  grep -q "exhaustive, up to 2 cuts per send: $all runs\$" "$work/err" || fail "plan not said up front as $all runs: $(cat "$work/err")"
  expect_rc 4 "$fray" replay --schedule exhaustive --max-cuts 2 --max-runs 10 --junit "$work/j.xml" "$here/pass.fray"
  grep -q "^PARTIAL .*pass.fray exhaustive 10 of $all runs" "$work/out" || fail "no PARTIAL line: $(cat "$work/out")"
  grep -q 'stopped by --max-runs' "$work/out" || fail "the bound is not named"
  grep -qx '0 passed, 0 failed, 1 partial' "$work/out" || fail "summary: $(tail -n1 "$work/out")"
  grep -q "max-runs stops it after 10" "$work/err" || fail "the bound is not announced"
  python3 - "$work/j.xml" <<'PY' || fail "--junit: a PARTIAL script is not skipped"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.get("skipped") == "1" and root.get("failures") == "0", root.attrib
assert root.find("testcase").find("skipped") is not None
PY
  expect_rc 4 "$fray" replay --json --schedule random --runs 1000 --max-runs 10 "$here/pass.fray"
  python3 - "$work/out" <<'PY' || fail "--json: a PARTIAL script"
import json, sys
r, s = [json.loads(l) for l in open(sys.argv[1])]
assert r["verdict"] == "PARTIAL" and r["passed"] is False and r["runs"] == 10, r
assert r["planned"] == 1001 and r["stopped_by"] == "max-runs", r
assert s["partial"] == 1 and s["passed"] == 0, s
PY
  expect_rc 4 "$fray" replay --mutate 50 --max-runs 5 "$here/pass.fray"
  # A failure inside the bound is a failure; a bound past the plan, a pass.
  expect_rc 1 "$fray" replay --schedule exhaustive --max-runs 20 "$here/split_bug.fray"
  expect_rc 0 "$fray" replay --schedule exhaustive --max-cuts 2 --max-runs "$all" "$here/pass.fray"
  # Exit status: an input error outranks a failure, a failure a partial.
  expect_rc 1 "$fray" replay --schedule exhaustive --max-runs 5 "$here/split_bug.fray" "$here/pass.fray"
  ;;
progress)
  # --time stops a campaign of 10.7 million runs (one of 1.3 million ran to
  # its end within 3 s once the simulator got faster); off a terminal,
  # progress comes as lines on stderr every few seconds.
  long=$(printf '%0400d' 0)
  printf '@handler echo\nopen a\na > "%s\\r\\n"\na < "%s\\r\\n"\n' "$long" "$long" >"$work/long.fray"
  t0=$(date +%s)
  expect_rc 4 "$fray" replay --schedule exhaustive --max-cuts 3 --time 3 "$work/long.fray"
  t1=$(date +%s)
  [ $((t1 - t0)) -lt 30 ] || fail "--time 3 took $((t1 - t0)) s"
  # 401 places for 1, 2 or 3 cuts in the 402-byte send, and the reference.
  grep -q '^PARTIAL .* of 10747202 runs' "$work/out" || fail "no PARTIAL line: $(cat "$work/out")"
  grep -q 'stopped by --time' "$work/out" || fail "--time not named"
  grep -Eq "^fray replay: .*long.fray: [0-9]+ of 10747202 runs \(" "$work/err" ||
    fail "no progress line on stderr: $(cat "$work/err")"
  ;;
warnings)
  # An option that does nothing with the others says so, once, on stderr.
  w() { # WANT_OPTION ARGS...: exactly one warning, naming WANT_OPTION
    want=$1
    shift
    "$fray" replay "$@" >"$work/out" 2>"$work/err"
    n=$(grep -c '^fray replay: warning: ' "$work/err")
    [ "$n" = 1 ] && grep -q "^fray replay: warning: $want is ignored: " "$work/err" ||
      fail "replay $*: want one warning about $want, got: $(cat "$work/err")"
  }
  w --max-cuts --schedule random --max-cuts 2 "$here/pass.fray"
  w --max-cuts --mutate 5 --max-cuts 2 "$here/pass.fray"
  w --schedule --mutate 5 --schedule bytewise "$here/pass.fray"
  w --runs --mutate 5 --runs 7 "$here/pass.fray"
  w --runs --schedule exhaustive --runs 7 "$here/pass.fray"
  w --seed --schedule bytewise --seed 7 "$here/pass.fray"
  w --short-writes --mutate 5 --short-writes "$here/pass.fray"
  w --pace --pace 0 "$here/pass.fray"
  w --pace --pace-ms 0 "$here/pass.fray"
  w --timeout --timeout 5s "$here/pass.fray"
  w --plugin --list-handlers --plugin x.so
  # The options that do something say nothing.
  "$fray" replay --schedule random --runs 20 --seed 3 --short-writes --max-runs 100 \
    "$here/pass.fray" >"$work/out" 2>"$work/err"
  ! grep -q warning "$work/err" || fail "a warning without cause: $(cat "$work/err")"
  "$fray" replay --schedule exhaustive --max-cuts 2 --seed 3 --short-writes "$here/pass.fray" \
    >"$work/out" 2>"$work/err"
  ! grep -q warning "$work/err" || fail "a warning without cause: $(cat "$work/err")"
  # --connect --mutate is refused for its own reason, not --short-writes'.
  expect_rc 2 "$fray" replay --connect 127.0.0.1:9 --mutate 5 "$here/pass.fray"
  grep -q 'mutate.*in-process' "$work/err" && ! grep -q "writes" "$work/err" ||
    fail "--connect --mutate refused for: $(cat "$work/err")"
  ;;
shard)
  # --shard K/N: the N shards make every (script, run) of the unsharded
  # run exactly once, with the same results and test names.
  set -- "$here/pass.fray" "$here/split_bug.fray" "$here/fail_whole.fray" "$here/nohandler.fray" \
    "$src/corpus/echo/"*.fray
  for how in "--schedule random --runs 30" "--schedule exhaustive --max-cuts 1" "--mutate 20"; do
    # shellcheck disable=SC2086
    "$fray" replay --keep-going --json $how --junit "$work/all.xml" "$@" \
      >"$work/all.json" 2>/dev/null
    for k in 1 2 3; do
      # shellcheck disable=SC2086
      "$fray" replay --keep-going --json $how --shard $k/3 --junit "$work/$k.xml" \
        "$@" >"$work/$k.json" 2>/dev/null
    done
    python3 - "$work" "$how" <<'PY' || fail "shards of '$how' are not a partition of the run"
import json, sys, xml.etree.ElementTree as ET
w, how = sys.argv[1], sys.argv[2]
def load(n):
    objs = [json.loads(l) for l in open(f"{w}/{n}.json")]
    return objs[:-1], objs[-1]
def made(r):  # the (script, run) pairs a result stands for, reference apart
    return r["runs"] - (0 if "mutate" in how else 1)
def fails(r):
    return {(r["file"], f["run"]) for f in r["failures"] if f["run"]}
whole, _ = load("all")
by_file = {r["file"]: r for r in whole}
seen, fail_union, count = [], set(), {}
for k in (1, 2, 3):
    rs, summary = load(k)
    for r in rs:
        seen.append(r["file"])
        count[r["file"]] = count.get(r["file"], 0) + made(r)
        f = fails(r)
        assert not (f & fail_union), ("a run in two shards", f & fail_union)
        fail_union |= f
    names = sorted(c.get("name") for c in ET.parse(f"{w}/{k}.xml").getroot().iter("testcase"))
    assert all(n in [c.get("name") for c in ET.parse(f"{w}/all.xml").getroot().iter("testcase")]
               for n in names), names
by_runs = "exhaustive" in how
if by_runs:  # every shard takes every script, and a third of its runs
    assert sorted(seen) == sorted(list(by_file) * 3), seen
else:
    assert sorted(seen) == sorted(by_file), ("scripts not dealt once each", seen)
for f, r in by_file.items():
    if "error" in r or (r["failures"] and r["failures"][0]["whole"]):
        continue
    assert count[f] == made(r), (f, count[f], made(r))
assert fail_union == {p for r in whole for p in fails(r)}, "failing runs differ"
PY
  done
  expect_rc 2 "$fray" replay --shard 4/3 "$here/pass.fray"
  expect_rc 2 "$fray" replay --shard 0/3 "$here/pass.fray"
  expect_rc 2 "$fray" replay --shard 1 "$here/pass.fray"
  ;;
isolation-crash)
  # Crash isolation (tests/plugin.cmake; ARGS: the plugin tests/plugin/faulty.c,
  # whose scripts are tests/plugin/faulty/). Four scripts, two of which crash
  # the handler: the others still pass, the summary and the JUnit file cover
  # all four, the exit status is 1.
  expect_rc 1 "$fray" replay --plugin "$plugin" --junit "$work/j.xml" --save-failures "$work/out.d" \
    "$faulty/pass.fray" "$faulty/segv.fray" "$faulty/abort.fray" "$faulty/pass.fray"
  [ "$(grep -c '^PASS .*/pass.fray random 201 runs' "$work/out")" = 2 ] || fail "pass.fray did not pass twice"
  has '^FAIL .*/segv.fray random'
  # Under sanitizers the report's first line names the crash instead.
  segv='(SIGSEGV|AddressSanitizer: SEGV|runtime error: store to null pointer)'
  # The failure names the line whose send crashed it (found by bisecting
  # the run's script in forked tries), not the script's end.
  has "segv.fray:5: crash: handler crashed in run [0-9]+: .*$segv"
  has '^FAIL .*/abort.fray random'
  has 'abort.fray:5: crash: handler aborted in run [0-9]+: SIGABRT'
  has '^2 passed, 2 failed$'
  grep -q 'tests="4" failures="2" errors="0"' "$work/j.xml" || fail "JUnit totals wrong"
  [ "$(grep -c '<testcase ' "$work/j.xml")" = 4 ] || fail "JUnit does not list 4 scripts"
  grep -q '<failure type="crash"' "$work/j.xml" || fail "JUnit has no crash failure"
  repro=$(sed -n 's/^    reproducer: \(.*segv-crash-.*\)$/\1/p' "$work/out")
  [ -f "$repro" ] || fail "no crash reproducer file: '$repro'"
  # Minimised in forked tries: @handler, the open, the crashing send and
  # its answer (kept: without it a fixed handler would fail the reproducer
  # on an answer nothing expects); the first exchange is gone.
  [ "$(statements "$repro")" -le 4 ] && ! grep -q hello "$repro" ||
    fail "reproducer not minimised: $(cat "$repro")"
  replay_as_header 1 "$repro"
  has "crash: handler crashed in run 0: .*$segv"
  ;;
isolation-hang)
  # A handler that never returns: cut by --run-timeout, reported, and the
  # next script runs.
  expect_rc 1 "$fray" replay --plugin "$plugin" --run-timeout 300ms --json \
    --save-failures "$work/out.d" "$faulty/hang.fray" "$faulty/pass.fray"
  has '"kind":"hang","run":[0-9]+.*"message":"handler hung: run [0-9]+ made no progress for 0.3 s"'
  has '"file":"[^"]*pass.fray".*"passed":true'
  has '^\{"summary":true,"passed":1,"failed":1,.*"errors":0'
  repro=$(ls "$work"/out.d/hang-hang-*.fray) || fail "no hang reproducer"
  grep -q '^# replay: fray replay .*--run-timeout 300ms' "$repro" || fail "header lacks --run-timeout"
  replay_as_header 1 "$repro"
  has 'hang: handler hung: run 0'
  ;;
isolation-mutate)
  # --mutate finds the crash with a variant that drops the line's end; the
  # variant is kept and crashes again as its header says.
  expect_rc 1 "$fray" replay --plugin "$plugin" --mutate 100 --save-failures "$work/out.d" \
    "$faulty/segv.fray"
  has 'segv.fray: crash: handler crashed in run [0-9]+: '
  repro=$(sed -n 's/^    reproducer: \(.*segv-mutant-.*\)$/\1/p' "$work/out")
  [ -f "$repro" ] || fail "no kept variant: '$repro'"
  [ "$(ls "$work/out.d" | wc -l)" = 1 ] || fail "variants that passed were left behind"
  replay_as_header 1 "$repro"
  has 'crash: handler crashed in run 0: '
  ;;
isolation-sanitizer)
  # Under ASan the report's first line reaches the FAIL line.
  expect_rc 1 "$fray" replay --plugin "$plugin" --save-failures "$work/out.d" \
    "$faulty/overflow.fray" "$faulty/pass.fray"
  has 'overflow.fray: crash: handler crashed in run [0-9]+: AddressSanitizer: heap-buffer-overflow'
  has '^1 passed, 1 failed$'
  grep -q 'ERROR: AddressSanitizer' "$work/err" || fail "the report itself was not passed through"
  ;;
trace)
  # --trace: per read, what the handler framed and sent, and how each
  # connection ended; bytes escaped, at most 64 a line.
  expect_rc 0 "$fray" replay --trace --schedule whole "$here/pass.fray"
  for want in 'trace: run 0 (whole, the reference)' '  alice read 7 bytes: "hello\r\n"' \
    '  alice   frame 5 bytes: "hello"' '  alice   sent 5 bytes: "hello" (framed: +2 bytes)' \
    '  bob   frame 3 bytes: "two"' "  bob   closed after the client's eof"; do
    grep -qxF "$want" "$work/out" || fail "no trace line '$want' in: $(cat "$work/out")"
  done
  long=$(printf '%0200d' 0)
  printf '@handler echo\nopen a\na > "%s\\r\\n"\na < "%s\\r\\n"\n' "$long" "$long" >"$work/long.fray"
  expect_rc 0 "$fray" replay --trace --schedule whole "$work/long.fray"
  grep -q '^  a read 202 bytes: "0\{64\}" \.\.\.$' "$work/out" || fail "long read not cut: $(cat "$work/out")"
  [ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$work/out")" -lt 200 ] ||
    fail "a trace line is longer than 200 characters"
  # A framing switch (the HTTP example's chunked body).
  expect_rc 0 "$fray" replay --trace --schedule whole "$src/corpus/http/chunked.fray"
  grep -q '^  a   switched framing to textlen$' "$work/out" || fail "no framing switch traced"
  # A handler's timer firing (the chat example's idle timeout): its virtual
  # time, and what its callback sent after it.
  expect_rc 0 "$fray" replay --trace --schedule whole "$src/corpus/chat_idle/idle.fray"
  grep -A4 -xF '  alice   timer fired at 60000 ms (virtual time)' "$work/out" |
    grep -qxF '  alice   sent 18 bytes: "ERR idle timeout\r\n"' ||
    fail "no timer firing traced before its answer: $(grep -A4 'timer' "$work/out")"
  # Every run made is traced, the minimiser's runs are not; --json keeps
  # stdout for JSON.
  expect_rc 1 "$fray" replay --trace --schedule random --save-failures "$work/r" "$here/split_bug.fray"
  runs=$(sed -n 's/^FAIL .* \([0-9][0-9]*\) runs .*/\1/p' "$work/out")
  [ "$(grep -c '^trace: run ' "$work/out")" = "$runs" ] ||
    fail "$(grep -c '^trace: run ' "$work/out") runs traced, $runs made"
  expect_rc 4 "$fray" replay --trace --json --max-runs 3 "$here/pass.fray"
  python3 -m json.tool --json-lines "$work/out" >/dev/null || fail "--trace --json: stdout is not JSON"
  [ "$(grep -c '^trace: run ' "$work/err")" = 3 ] || fail "--max-runs 3: not 3 runs traced on stderr"
  ;;
window)
  # ARGS: BUGGY.so FIXED.so SCRIPT (tests/window.cmake). The receive-window
  # fault on catches the buggy relay and the failure names it; the other
  # fault kinds on miss it, as do no faults; the fixed twin passes with every
  # kind on.
  buggy=$1 fixed=$2 script=$3
  # A long schedule's description is cut before its faults: the
  # reproducer's header names the kinds the failure needs.
  expect_rc 1 "$fray" replay --plugin "$buggy" --schedule random --faults window --runs 200 \
    --seed 1 --save-failures "$work/win" "$script"
  grep -q "receive window of" "$work/out" || grep -qs "fault kinds window" "$work"/win/*.fray ||
    fail "the failure does not name the window"
  expect_rc 0 "$fray" replay --plugin "$buggy" --schedule random \
    --faults short-writes,eof-with-data --runs 200 --seed 1 "$script"
  expect_rc 0 "$fray" replay --plugin "$buggy" --schedule random --faults none --runs 200 \
    --seed 1 "$script"
  expect_rc 1 "$fray" replay --plugin "$buggy" --schedule random --runs 200 --seed 1 "$script"
  expect_rc 0 "$fray" replay --plugin "$fixed" --schedule random --faults all --runs 400 \
    --seed 1 "$script"
  ;;
window-exec)
  # ARGS: a server command for --exec. The shim holds a client's reads as
  # the simulator does: what a stopped client is let read arrives, the rest
  # when it resumes; an answer it cannot read fails, naming the step.
  printf 'open a\na stops reading\na > "ECHO hello\\r\\n"\na reads 3\na < "hel"\na resumes reading\na < "lo\\r\\n"\nclose a\n' >"$work/stop.fray"
  expect_rc 0 "$fray" replay --exec "$1" --schedule random --runs 50 "$work/stop.fray"
  expect_rc 0 "$fray" replay --exec "$1" --schedule bytewise "$work/stop.fray"
  printf 'open a\na stops reading\na > "PING\\r\\n"\na < "PONG\\r\\n"\nclose a\n' >"$work/deaf.fray"
  expect_rc 1 "$fray" replay --exec "$1" "$work/deaf.fray"
  grep -q "a is not reading (line 2)" "$work/out" || fail "the failure does not name the step"
  ;;
*)
  fail "unknown check '$check'"
  ;;
esac
exit 0
