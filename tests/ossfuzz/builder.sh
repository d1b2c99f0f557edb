#!/usr/bin/env bash
# tests/ossfuzz/builder.sh: plays OSS-Fuzz's base-builder image (the one
# ClusterFuzzLite builds in too) without Docker, then checks what the
# project's build.sh produced and runs every target for a bounded time.
#
#   builder.sh --sanitizer address|undefined|memory --engine libfuzzer|afl|honggfuzz
#              --project DIR --build-sh FILE --work DIR [--name NAME]
#              [--runs N] [--afl-secs S] [--yaml FILE]... [--expect TARGET]...
#              [--with NAME=DIR]... [--then SCRIPT]
#
# The environment is the image's, as its Dockerfile and `compile` script set
# it (infra/base-images/base-clang, base-builder, compile, compile_<engine>):
#   CFLAGS    -O1 -fno-omit-frame-pointer -gline-tables-only
#             -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, then
#             $SANITIZER_FLAGS_<sanitizer> and $COVERAGE_FLAGS
#   CXXFLAGS  $CFLAGS (the image adds -stdlib=libc++: no libc++-dev here, and
#             nothing built here is C++, so it is left out)
#   libfuzzer  CC=clang CXX=clang++ COVERAGE_FLAGS=-fsanitize=fuzzer-no-link
#              LIB_FUZZING_ENGINE=-fsanitize=fuzzer
#   afl        CC=afl-clang-fast CXX=afl-clang-fast++ COVERAGE_FLAGS= (afl-cc
#              instruments) LIB_FUZZING_ENGINE=libAFLDriver.a (afl++ package)
#   honggfuzz  CC=clang COVERAGE_FLAGS=-fsanitize-coverage=trace-pc-guard,
#              indirect-calls,trace-cmp LIB_FUZZING_ENGINE=libhfuzz.a: needs
#              honggfuzz, which Debian 12 does not package (skipped, exit 77)
#   SRC=WORK/src (holding the project as SRC/NAME, by default the project
#   directory's name, each --with DIR as SRC/NAME, what the Dockerfile
#   would have cloned there, and build.sh as
#   SRC/build.sh), OUT=WORK/out, WORK=WORK/work; SANITIZER, FUZZING_ENGINE,
#   ARCHITECTURE=x86_64, FUZZING_LANGUAGE=c; build.sh runs as
#   `bash -eux $SRC/build.sh` from SRC/<name>, the Dockerfile's WORKDIR.
#
# Then, for every executable in OUT (--expect names ones that must be there):
#   - nm shows LLVMFuzzerTestOneInput, the sanitizer's runtime (__asan_init,
#     __ubsan_handle_*, __msan_init) and the engine's coverage
#     (__sancov_cntrs / __sanitizer_cov_trace_pc_guard, or __afl_area_ptr);
#   - TARGET_seed_corpus.zip passes `unzip -t` and holds at least one input;
#     TARGET.options parses as an INI file with a [libfuzzer] section; a
#     TARGET.dict, if any, is given to the run below, which fails on a bad one;
#   - the target runs: libFuzzer -runs=N over its unzipped seeds; AFL++
#     afl-fuzz -V S from them (and must have executed inputs).
# --then SCRIPT: run last, in the same environment (project-specific checks).
# --yaml FILE: must parse (PyYAML when python3 has it, else a strict
# minimal check of indentation and key/item syntax; the log says which).
#
# Exit 0 all held; 1 with the reason; 2 usage; 77 the engine or sanitizer
# cannot run on this machine (ctest SKIP_RETURN_CODE).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

sanitizer="" engine="" project="" name="" build_sh="" top="" runs=300 afl_secs=3 yaml=() expect=() then="" with=()
while [ $# -gt 0 ]; do
  case $1 in
    --sanitizer) sanitizer=${2:?} ;;
    --engine) engine=${2:?} ;;
    --project) project=${2:?} ;;
    --name) name=${2:?} ;;
    --build-sh) build_sh=${2:?} ;;
    --work) top=${2:?} ;;
    --runs) runs=${2:?} ;;
    --afl-secs) afl_secs=${2:?} ;;
    --yaml) yaml+=("${2:?}") ;;
    --expect) expect+=("${2:?}") ;;
    --then) then=${2:?} ;;
    --with) with+=("${2:?}") ;;
    *) echo "builder: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift 2
done
[ -n "$sanitizer" ] && [ -n "$engine" ] && [ -d "$project" ] && [ -f "$build_sh" ] && [ -n "$top" ] ||
  { sed -n '2,8p' "$0" >&2; exit 2; }

# The YAML first: it needs no build.
[ ${#yaml[@]} = 0 ] || python3 "$here/yamlcheck.py" "${yaml[@]}" || fail "invalid YAML in ${yaml[*]}"

export SANITIZER=$sanitizer FUZZING_ENGINE=$engine ARCHITECTURE=x86_64 FUZZING_LANGUAGE=c
case $sanitizer in
  address) SANITIZER_FLAGS="-fsanitize=address -fsanitize-address-use-after-scope" san_sym='__asan_init' ;;
  undefined)
    # The image's list, as it is (unsigned-integer-overflow is a coverage
    # signal there, silenced at run time by silence_unsigned_overflow=1).
    u=array-bounds,bool,builtin,enum,function,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow
    u=$u,unreachable,vla-bound,vptr
    SANITIZER_FLAGS="-fsanitize=$u,unsigned-integer-overflow -fno-sanitize-recover=$u" san_sym='__ubsan_handle_'
    ;;
  memory) SANITIZER_FLAGS="-fsanitize=memory -fsanitize-memory-track-origins" san_sym='__msan_init' ;;
  *) echo "builder: --sanitizer address, undefined or memory" >&2; exit 2 ;;
esac
case $engine in
  libfuzzer)
    command -v clang >/dev/null && command -v clang++ >/dev/null || skip "no clang/clang++"
    export CC=clang CXX=clang++ LIB_FUZZING_ENGINE=-fsanitize=fuzzer
    COVERAGE_FLAGS=-fsanitize=fuzzer-no-link cov_sym='__sancov_cntrs|__sanitizer_cov_trace_pc_guard|__sanitizer_cov_8bit_counters_init'
    ;;
  afl)
    drv=$(dpkg -L afl++ 2>/dev/null | grep '/libAFLDriver\.a$' | head -n1 || true)
    command -v afl-clang-fast >/dev/null && [ -n "$drv" ] || skip "no afl-clang-fast or libAFLDriver.a (apt-get install afl++)"
    [ "$sanitizer" != memory ] || skip "AFL++ builds with MSan are not done on OSS-Fuzz either"
    export CC=afl-clang-fast CXX=afl-clang-fast++ LIB_FUZZING_ENGINE=$drv AFL_QUIET=1
    COVERAGE_FLAGS="" cov_sym='__afl_area_ptr'
    ;;
  honggfuzz)
    # OSS-Fuzz builds honggfuzz's libhfuzz from source; Debian 12 has no
    # honggfuzz package, so there is nothing to link against here.
    command -v honggfuzz >/dev/null || skip "honggfuzz is not installed (Debian 12 does not package it)"
    hf=${HFUZZ_LIB:-}
    [ -f "$hf" ] || skip "honggfuzz found but no libhfuzz.a (set HFUZZ_LIB)"
    export CC=clang CXX=clang++ LIB_FUZZING_ENGINE=$hf
    COVERAGE_FLAGS=-fsanitize-coverage=trace-pc-guard,indirect-calls,trace-cmp cov_sym='__sanitizer_cov_trace_pc_guard'
    ;;
  *) echo "builder: --engine libfuzzer, afl or honggfuzz" >&2; exit 2 ;;
esac
export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION $SANITIZER_FLAGS $COVERAGE_FLAGS"
export CXXFLAGS=$CFLAGS SANITIZER_FLAGS COVERAGE_FLAGS
# The image's run-time defaults (base-runner); leaks are checked by the
# project's own tests, and a leak report would hide which target failed.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=silence_unsigned_overflow=1:halt_on_error=1:print_stacktrace=1
[ "$sanitizer" != memory ] || export MSAN_OPTIONS=halt_on_error=1:symbolize=1

project=$(cd "$project" && pwd)
name=${name:-$(basename "$project")}
rm -rf "$top" && mkdir -p "$top/src" "$top/out" "$top/work"
export SRC=$top/src OUT=$top/out WORK=$top/work
ln -s "$project" "$SRC/$name"
for w in ${with[@]+"${with[@]}"}; do
  ln -s "$(cd "${w#*=}" && pwd)" "$SRC/${w%%=*}"
done
cp "$build_sh" "$SRC/build.sh"
echo "builder: $engine + $sanitizer: CC=$CC CXX=$CXX LIB_FUZZING_ENGINE=$LIB_FUZZING_ENGINE"
echo "builder: CFLAGS=$CFLAGS"
(cd "$SRC/$name" && bash -eux "$SRC/build.sh") >"$top/build.log" 2>&1 ||
  { tail -n 40 "$top/build.log"; fail "build.sh exited non-zero (log: $top/build.log)"; }

targets=()
for f in "$OUT"/*; do
  [ -f "$f" ] && [ -x "$f" ] || continue
  case $(basename "$f") in afl-* | llvm-symbolizer | *.so | *.a | *.o) continue ;; esac
  targets+=("$(basename "$f")")
done
[ ${#targets[@]} -gt 0 ] || fail "build.sh put no executable in \$OUT"
for t in ${expect[@]+"${expect[@]}"}; do
  [ -x "$OUT/$t" ] || fail "no $t in \$OUT (built: ${targets[*]})"
done

for t in "${targets[@]}"; do
  syms=$(nm "$OUT/$t")
  grep -q ' T LLVMFuzzerTestOneInput$' <<<"$syms" || fail "$t defines no LLVMFuzzerTestOneInput"
  grep -q "$san_sym" <<<"$syms" || fail "$t lacks the $sanitizer runtime ($san_sym)"
  grep -qE "$cov_sym" <<<"$syms" || fail "$t lacks $engine coverage ($cov_sym)"
  zip=$OUT/${t}_seed_corpus.zip
  [ -f "$zip" ] || fail "no ${t}_seed_corpus.zip"
  unzip -tq "$zip" >/dev/null || fail "${t}_seed_corpus.zip is not a valid zip"
  seeds=$top/seeds/$t
  mkdir -p "$seeds" && unzip -qo "$zip" -d "$seeds"
  nseeds=$(find "$seeds" -type f | wc -l)
  [ "$nseeds" -gt 0 ] || fail "${t}_seed_corpus.zip is empty"
  [ -f "$OUT/$t.options" ] || fail "no $t.options"
  python3 -c 'import configparser, sys
c = configparser.ConfigParser()
c.read_file(open(sys.argv[1]))
sys.exit(0 if c.has_section("libfuzzer") else "no [libfuzzer] section")' "$OUT/$t.options" ||
    fail "$t.options is not a valid options file"
  dict=()
  [ ! -f "$OUT/$t.dict" ] || dict=("$OUT/$t.dict")
  log=$top/run-$t.log
  if [ "$engine" = afl ]; then
    # afl-fuzz refuses sanitizer options that symbolize (compile_afl's own
    # ASAN_OPTIONS say symbolize=0 too).
    export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
    export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:symbolize=0
    afl-fuzz -i "$seeds" -o "$top/afl-$t" -V "$afl_secs" ${dict[@]+-x "${dict[@]}"} -- "$OUT/$t" \
      >"$log" 2>&1 || { tail -n 20 "$log"; fail "afl-fuzz on $t failed"; }
    execs=$(sed -n 's/^execs_done *: *//p' "$top/afl-$t"/default/fuzzer_stats)
    crashes=$(find "$top/afl-$t/default/crashes" -name 'id:*' | wc -l)
    [ "${execs:-0}" -gt 0 ] || fail "afl-fuzz executed nothing on $t"
    [ "$crashes" = 0 ] || fail "afl-fuzz found $crashes crash(es) in $t: $top/afl-$t/default/crashes"
    echo "builder: $t: $nseeds seeds, afl-fuzz ${afl_secs}s: $execs execs, no crash"
  else
    mkdir -p "$top/corpus-$t"
    "$OUT/$t" -runs="$runs" -seed=1 ${dict[@]+-dict="${dict[@]}"} -artifact_prefix="$top/" \
      "$top/corpus-$t" "$seeds" >"$log" 2>&1 || { tail -n 30 "$log"; fail "$t failed within $runs runs"; }
    echo "builder: $t: $nseeds seeds, $runs runs clean${dict[*]:+, with its dictionary}"
  fi
done
echo "builder: $engine + $sanitizer: ${#targets[@]} target(s) built and run: ${targets[*]}"
[ -z "$then" ] || bash "$then" || fail "$then failed"
