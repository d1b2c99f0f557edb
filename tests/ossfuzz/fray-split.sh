#!/usr/bin/env bash
# tests/ossfuzz/fray-split.sh: run by builder.sh (--then) after fray's own
# OSS-Fuzz build: libfray is split as targets/CMakeLists.txt splits it
# (scripts/oss-fuzz-build.sh's header says why). In $WORK/fray-objs:
#   the session driver (run/, session/) carries no coverage at all;
#   the runtime (core/) in the session archive has edges but no comparison
#   tracing (libFuzzer: no __sanitizer_cov_trace_cmp*);
#   the full archive, which the library targets use, traces comparisons.
# Objects of an archive the configuration did not need are not checked.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
objs=$WORK/fray-objs
cov='__sanitizer_cov|__sancov|__afl_'
count() { if [ -f "$objs/$1" ]; then nm "$objs/$1" | grep -cE "$2" || true; else echo -; fi; }
checked=0
if [ -f "$objs/run_sim.session.o" ]; then
  [ "$(count run_sim.session.o "$cov")" = 0 ] || fail "the session driver (run/sim.c) is instrumented"
  [ "$(count core_framer.session.o "$cov")" -gt 0 ] || fail "the session runtime (core/framer.c) has no coverage"
  if [ "$FUZZING_ENGINE" = libfuzzer ]; then
    [ "$(count core_framer.session.o '__sanitizer_cov_trace_(const_)?cmp')" = 0 ] ||
      fail "the session runtime traces comparisons"
  fi
  checked=1
fi
if [ -f "$objs/run_sim.full.o" ] && [ "$FUZZING_ENGINE" = libfuzzer ]; then
  [ "$(count run_sim.full.o '__sanitizer_cov_trace_(const_)?cmp')" -gt 0 ] ||
    fail "the full archive (library targets) lacks comparison tracing"
  checked=1
fi
[ "$checked" = 1 ] || fail "no libfray object in $objs to check"
echo "fray-split: libfray's archives are instrumented as targets/CMakeLists.txt splits them ($FUZZING_ENGINE)"
