#!/usr/bin/env bash
# ci/test.sh: build fray every way CI does and run the whole test suite.
# This is the README's second command and what .ci/run calls.
#
#   ci/test.sh                 # deps, then every stage below
#   ci/test.sh --quick         # deps, then the gcc stage only (a developer's loop)
#   ci/test.sh --stage asan    # chosen stages only (repeatable)
#   ci/test.sh --no-deps       # skip scripts/deps.sh (no apt at all)
#
# Stages (each in its own build directory at the repository root, reused
# between runs so a second run only rebuilds what changed):
#   gcc    gcc, RelWithDebInfo, -Werror, libevent adapter: build + ctest
#   clang  clang, RelWithDebInfo, -Werror, libevent adapter, fuzz targets:
#          build + ctest
#   asan   clang, ASan+UBSan (halt on the first report), -Werror: build + ctest
#   demo   scripts/demo.sh (the README's first command, minus deps), so that
#          command cannot rot unnoticed
#
# Every stage runs even when an earlier one failed, so one CI log shows all
# breakage; the exit status is non-zero when any stage failed. The last lines
# are one summary line per stage, a verdict, and the test count over all
# stages as "tests: N passed, M failed".
#
# Environment: FRAY_CI_JOBS (default 2) parallel jobs for make and ctest;
# CMOCKA_MESSAGE_OUTPUT (default TAP; XML also works, see STYLE.md section 6).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2

jobs=${FRAY_CI_JOBS:-2}
run_deps=1
stages=()
all_stages=(gcc clang asan demo)

usage() {
  sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case $1 in
    --quick) stages=(gcc) ;;
    --stage)
      [ $# -ge 2 ] || { echo "ci: --stage needs a name (${all_stages[*]})" >&2; exit 2; }
      case " ${all_stages[*]} " in
        *" $2 "*) stages+=("$2") ;;
        *) echo "ci: unknown stage '$2' (${all_stages[*]})" >&2; exit 2 ;;
      esac
      shift
      ;;
    --no-deps) run_deps=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "ci: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#stages[@]} -gt 0 ] || stages=("${all_stages[@]}")

# cmocka prints TAP (or XML) so CI logs are machine-readable; a developer may
# override it.
export CMOCKA_MESSAGE_OUTPUT=${CMOCKA_MESSAGE_OUTPUT:-TAP}
# Sanitizer reports must fail the test that triggered them, with a stack.
# (The build already uses -fno-sanitize-recover=all; these cover the runtime.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Nothing in CI may wait for input.
exec </dev/null

t_start=$SECONDS
banner() {
  printf '\n==== ci: %s ====\n' "$*"
}
fmt_time() {
  printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

if [ "$run_deps" = 1 ]; then
  banner "dependencies (scripts/deps.sh)"
  if ! bash "$root/scripts/deps.sh" --with-servers; then
    echo "ci: FAIL: could not install the dependencies (see above)"
    echo "tests: 0 passed, 0 failed"
    exit 1
  fi
fi

banner "toolchain"
for tool in gcc clang cmake; do
  printf '%-6s %s\n' "$tool" "$("$tool" --version 2>/dev/null | head -n1 || echo 'not found')"
done

summary=()
failed_stages=()
total_pass=0
total_fail=0

# build_and_test NAME DIR RUN_CTEST CMAKE_ARGS...
# Configures and builds in DIR, then (when RUN_CTEST is 1) runs ctest there.
# Records one summary line; returns non-zero on any failure.
build_and_test() {
  local name=$1 dir=$2 run_ctest=$3
  shift 3
  local t0=$SECONDS log="$root/$dir/ci-ctest.log"

  banner "stage $name: configure ($dir)"
  if ! cmake -S "$root" -B "$root/$dir" "$@"; then
    summary+=("$(printf 'ci: stage %-6s FAIL  configure failed' "$name")")
    return 1
  fi
  banner "stage $name: build (-j$jobs)"
  if ! cmake --build "$root/$dir" -j "$jobs"; then
    summary+=("$(printf 'ci: stage %-6s FAIL  build failed (%s)' "$name" "$(fmt_time $((SECONDS - t0)))")")
    return 1
  fi
  local t_build=$((SECONDS - t0))
  if [ "$run_ctest" != 1 ]; then
    summary+=("$(printf 'ci: stage %-6s PASS  built in %s (no tests run)' "$name" "$(fmt_time "$t_build")")")
    return 0
  fi

  banner "stage $name: ctest (-j$jobs)"
  # --no-tests=error: a build that registers no test is a broken build, not
  # a green one.
  local rc=0
  # --repeat until-pass:2: a test that fails is run once more and counts as
  # passed only if the second run passes. The real-server tests (shim.*,
  # net.*) race a loaded 2-core machine at times; a real failure fails twice.
  # Every retry shows in the log as a failed run followed by a passed one.
  (cd "$root/$dir" && ctest --output-on-failure --no-tests=error --repeat until-pass:2 -j "$jobs") \
    2>&1 | tee "$log" || rc=$?
  # ctest's closing line: "92% tests passed, 1 tests failed out of 13".
  local line pass=0 fail=0 total=0
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1 || true)
  if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
    fail=${BASH_REMATCH[1]}
    total=${BASH_REMATCH[2]}
    pass=$((total - fail))
  elif [ "$rc" -ne 0 ]; then
    fail=1 # ctest died before its summary (or found no test): count it once
  fi
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + fail))
  local t_all=$((SECONDS - t0))
  if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ]; then
    summary+=("$(printf 'ci: stage %-6s FAIL  %d/%d tests passed (build %s, total %s)' \
      "$name" "$pass" "$total" "$(fmt_time "$t_build")" "$(fmt_time "$t_all")")")
    return 1
  fi
  summary+=("$(printf 'ci: stage %-6s PASS  %d/%d tests passed (build %s, total %s)' \
    "$name" "$pass" "$total" "$(fmt_time "$t_build")" "$(fmt_time "$t_all")")")
  return 0
}

run_stage() {
  case $1 in
    gcc)
      build_and_test gcc build-ci-gcc 1 \
        -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DFRAY_WERROR=ON -DFRAY_WITH_LIBEVENT=ON
      ;;
    clang)
      build_and_test clang build-ci-clang 1 \
        -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DFRAY_WERROR=ON -DFRAY_WITH_LIBEVENT=ON -DFRAY_BUILD_FUZZERS=ON
      ;;
    asan)
      # -O1 keeps sanitized tests quick while leaving stacks readable.
      build_and_test asan build-ci-asan 1 \
        -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
        -DFRAY_WERROR=ON -DFRAY_WITH_LIBEVENT=ON \
        -DFRAY_ENABLE_ASAN=ON -DFRAY_ENABLE_UBSAN=ON
      ;;
    demo)
      local t0=$SECONDS
      banner "stage demo: scripts/demo.sh --no-deps"
      if bash "$root/scripts/demo.sh" --no-deps; then
        summary+=("$(printf 'ci: stage %-6s PASS  scripts/demo.sh verdict OK (%s)' demo "$(fmt_time $((SECONDS - t0)))")")
      else
        summary+=("$(printf 'ci: stage %-6s FAIL  scripts/demo.sh failed (%s)' demo "$(fmt_time $((SECONDS - t0)))")")
        return 1
      fi
      ;;
  esac
}

for s in "${stages[@]}"; do
  run_stage "$s" || failed_stages+=("$s")
done

banner "summary"
printf '%s\n' "${summary[@]}"
elapsed=$(fmt_time $((SECONDS - t_start)))
if [ ${#failed_stages[@]} -eq 0 ]; then
  echo "ci: PASS: ${#stages[@]} stage(s) (${stages[*]}) passed in $elapsed"
  echo "tests: $total_pass passed, $total_fail failed"
  exit 0
fi
echo "ci: FAIL: stage(s) ${failed_stages[*]} failed ($elapsed)"
echo "tests: $total_pass passed, $total_fail failed"
exit 1
