#!/usr/bin/env bash
# scripts/oss-fuzz-build.sh: builds the fuzz targets the OSS-Fuzz way (the
# project's build.sh there, or ClusterFuzzLite's, would be just this script).
# It uses only what OSS-Fuzz's base-builder image sets:
#   $CC $CFLAGS          compile (sanitizer + coverage flags already in $CFLAGS)
#   $CXX $CXXFLAGS       link: OSS-Fuzz requires linking with the C++ driver,
#                        since every engine's library is C++
#   $LIB_FUZZING_ENGINE  the engine, last on the link line: -fsanitize=fuzzer
#                        (libFuzzer), a libAFLDriver.a with CC=afl-clang-fast
#                        (AFL++), or honggfuzz's libhfuzz archive
#   $OUT                 where binaries, seed zips, .dict and .options go
#   $WORK                scratch space (a temporary directory when unset)
# and produces, for every targets/fuzz_<name>.c:
#   $OUT/fuzz_<name>                    the target
#   $OUT/fuzz_<name>_seed_corpus.zip    corpus/fuzz_<name>/seeds + regressions
#                                       (handler seeds are the corpus .fray
#                                       scripts through `fray fuzz-encode`:
#                                       scripts/seeds.sh, kept current by the
#                                       ctest fuzz.seeds.current)
#   $OUT/fuzz_<name>.dict               its dictionary, if it has one
#   $OUT/fuzz_<name>.options            corpus/fuzz_<name>/fuzz_<name>.options,
#                                       or max_len = 4096 (and the dictionary)
#
# FRAY_OSS_FUZZ_TARGETS="chat framer" builds only those targets (all when
# unset); FRAY_BUILD_JOBS=N compiles N files at a time (default: nproc).
#
# Locally, the base-builder's libFuzzer + ASan build (tests/ossfuzz/builder.sh
# plays the whole builder, every engine and sanitizer available):
#   CC=clang CXX=clang++ CFLAGS="-O1 -gline-tables-only -fsanitize=address -fsanitize=fuzzer-no-link" \
#   CXXFLAGS="$CFLAGS" LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out scripts/oss-fuzz-build.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${CC:?set CC}" "${CXX:?set CXX}" "${LIB_FUZZING_ENGINE:?set LIB_FUZZING_ENGINE}" "${OUT:?set OUT}"
CFLAGS=${CFLAGS:-} CXXFLAGS=${CXXFLAGS:-}
jobs=${FRAY_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}
work=${WORK:-$(mktemp -d)}/fray-objs
mkdir -p "$OUT" "$work"
command -v zip >/dev/null || { echo "oss-fuzz-build: zip is needed (apt-get install zip)" >&2; exit 2; }

# fray/version.h, generated as CMake does (CMakeLists.txt's configure_file)
# from the one place the version is written, project(VERSION) there.
read -r vmaj vmin vpat < <(sed -nE 's/^project\(fray VERSION ([0-9]+)\.([0-9]+)\.([0-9]+).*/\1 \2 \3/p' \
  "$root/CMakeLists.txt")
mkdir -p "$work/include/fray"
sed -e "s/@PROJECT_VERSION_MAJOR@/$vmaj/g" -e "s/@PROJECT_VERSION_MINOR@/$vmin/g" \
  -e "s/@PROJECT_VERSION_PATCH@/$vpat/g" "$root/harness/cmake/version.h.in" >"$work/include/fray/version.h"

common=(-std=c11 -D_DEFAULT_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION=1 -DFRAY_SANITIZED=1
  -I"$root/harness/include" -I"$work/include" -I"$root/harness/src" -I"$root/examples")
# libfray twice, split as targets/CMakeLists.txt splits it. The library
# targets (framer, script, outq) test libfray itself: all of it with $CFLAGS.
# Every other target tests a handler: the handlers with $CFLAGS, the runtime
# they run on (harness/src/core/) without comparison tracing, and
# the session driver with no coverage (targets/driver.ignorelist, through
# clang's ignore list or afl-clang-fast's deny list). Without clang (no
# OSS-Fuzz compiler does that) both archives are the same.
# FRAY_BUILDING only for the library's own files, as in harness/CMakeLists.txt.
ignore=$root/targets/driver.ignorelist
clang=0 harness=()
$CC --version 2>/dev/null | grep -q clang && clang=1 harness=(-fsanitize-coverage-ignorelist="$ignore")
compile() { # SRC OBJ [FLAG...]
  local src=$1 obj=$2 extra=()
  shift 2
  case $src in "$root"/harness/src/*) extra=(-DFRAY_BUILDING=1) ;; esac
  # shellcheck disable=SC2086 # CFLAGS is a list of flags by convention
  $CC $CFLAGS "${common[@]}" "${extra[@]}" "$@" -c "$src" -o "$obj"
}
# spawn SRC OBJ [FLAG...]: compile in the background, $jobs at a time;
# drain waits for all. Waiting on each pid returns its status, so set -e
# stops the build at the first failed compile.
pids=()
spawn() {
  compile "$@" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
}
drain() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do wait "$p"; done
  pids=()
}
# The targets to build, and which of the two archives they need.
names=() need_full=0 need_session=0
for src in "$root"/targets/fuzz_*.c; do
  name=$(basename "$src" .c)
  if [ -n "${FRAY_OSS_FUZZ_TARGETS:-}" ]; then
    case " $FRAY_OSS_FUZZ_TARGETS " in *" ${name#fuzz_} "*) ;; *) continue ;; esac
  fi
  names+=("$name")
  case $name in fuzz_framer | fuzz_script | fuzz_outq) need_full=1 ;; *) need_session=1 ;; esac
done
[ ${#names[@]} -gt 0 ] || { echo "oss-fuzz-build: no target matches FRAY_OSS_FUZZ_TARGETS" >&2; exit 2; }
[ $clang = 1 ] || need_full=1 # the session archive is the full one's objects

full=() session=()
for src in "$root"/harness/src/*/*.c; do
  rel=${src#"$root"/harness/src/}
  obj=$work/${rel//\//_}
  obj=${obj%.c}
  if [ $need_full = 1 ]; then
    spawn "$src" "$obj.full.o"
    full+=("$obj.full.o")
  fi
  if [ $need_session = 0 ]; then
    continue
  elif [ $clang = 0 ]; then
    session+=("$obj.full.o")
  elif [ "${rel%%/*}" = core ]; then
    spawn "$src" "$obj.session.o" -fno-sanitize-coverage=trace-cmp,indirect-calls
    session+=("$obj.session.o")
  else
    AFL_LLVM_DENYLIST=$ignore spawn "$src" "$obj.session.o" ${harness[@]+"${harness[@]}"}
    session+=("$obj.session.o")
  fi
done
for src in "$root"/examples/*.c "$root"/examples/buggy/*.c; do
  [ $need_session = 1 ] && [ -f "$src" ] || continue
  obj=$work/$(echo "${src#"$root"/}" | tr / _).o
  spawn "$src" "$obj"
  session+=("$obj")
done
for name in "${names[@]}"; do
  # The target's own file is harness: not instrumented (as in CMake).
  AFL_LLVM_DENYLIST=$ignore spawn "$root/targets/$name.c" "$work/$name.o" ${harness[@]+"${harness[@]}"}
done
drain
rm -f "$work/libfray_full.a" "$work/libfray_session.a"
[ $need_full = 0 ] || ar rcs "$work/libfray_full.a" "${full[@]}"
[ $need_session = 0 ] || ar rcs "$work/libfray_session.a" "${session[@]}"

for name in "${names[@]}"; do
  lib=$work/libfray_session.a
  case $name in fuzz_framer | fuzz_script | fuzz_outq) lib=$work/libfray_full.a ;; esac
  # Linked by the C++ driver, the engine last, as OSS-Fuzz requires; libfray
  # matches regexes with PCRE2 (libpcre2-dev in the build image).
  # shellcheck disable=SC2086 # CXXFLAGS and LIB_FUZZING_ENGINE are lists of words
  $CXX $CXXFLAGS "$work/$name.o" -o "$OUT/$name" "$lib" -lpcre2-8 -ldl $LIB_FUZZING_ENGINE
  rm -f "$OUT/${name}_seed_corpus.zip"
  for d in "$root/corpus/$name/seeds" "$root/corpus/regressions/$name"; do
    [ -d "$d" ] && (cd "$d" && zip -q -j -r "$OUT/${name}_seed_corpus.zip" .)
  done
  dict=$(ls "$root/corpus/$name"/*.dict 2>/dev/null | head -n1 || true)
  short=${name#fuzz_}
  [ -n "$dict" ] || [ ! -f "$root/corpus/dicts/$short.dict" ] || dict=$root/corpus/dicts/$short.dict
  [ -z "$dict" ] || cp "$dict" "$OUT/$name.dict"
  if [ -f "$root/corpus/$name/$name.options" ]; then
    cp "$root/corpus/$name/$name.options" "$OUT/"
  else
    # The limit fuzz.sh and the smoke tests use: a session of a few
    # messages fits, and the fuzzer does not waste time on huge inputs.
    { printf '[libfuzzer]\nmax_len = 4096\n'; [ -z "$dict" ] || printf 'dict = %s.dict\n' "$name"; } \
      >"$OUT/$name.options"
  fi
  echo "oss-fuzz-build: $OUT/$name"
done
