#!/usr/bin/env bash
# scripts/oss-fuzz-build.sh: builds the fuzz targets the OSS-Fuzz way (the
# project's build.sh there would be just this script). It uses only what
# OSS-Fuzz's base-builder sets:
#   $CC $CFLAGS          compiler and flags (sanitizer + coverage instrumentation)
#   $LIB_FUZZING_ENGINE  the engine to link (-fsanitize=fuzzer, libAFLDriver.a, ...)
#   $OUT                 where binaries, seed zips, .dict and .options go
#   $WORK                scratch space (optional)
# and produces, for every targets/fuzz_<name>.c:
#   $OUT/fuzz_<name>                    the target
#   $OUT/fuzz_<name>_seed_corpus.zip    corpus/fuzz_<name>/seeds + regressions
#   $OUT/fuzz_<name>.dict               its dictionary, if it has one
#   $OUT/fuzz_<name>.options            its options, if it has them
#
# FRAY_OSS_FUZZ_TARGETS="chat framer" builds only those targets (all when
# unset).
#
# Locally, the same thing with libFuzzer:
#   CC=clang CFLAGS="-O1 -g -fsanitize=address,undefined -fsanitize=fuzzer-no-link" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out scripts/oss-fuzz-build.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${CC:?set CC}" "${LIB_FUZZING_ENGINE:?set LIB_FUZZING_ENGINE}" "${OUT:?set OUT}"
CFLAGS=${CFLAGS:-}
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
full=() session=()
for src in "$root"/harness/src/*/*.c; do
  rel=${src#"$root"/harness/src/}
  obj=$work/${rel//\//_}
  obj=${obj%.c}
  compile "$src" "$obj.full.o"
  full+=("$obj.full.o")
  if [ $clang = 0 ]; then
    session+=("$obj.full.o")
  elif [ "${rel%%/*}" = core ]; then
    compile "$src" "$obj.session.o" -fno-sanitize-coverage=trace-cmp,indirect-calls
    session+=("$obj.session.o")
  else
    AFL_LLVM_DENYLIST=$ignore compile "$src" "$obj.session.o" ${harness[@]+"${harness[@]}"}
    session+=("$obj.session.o")
  fi
done
for src in "$root"/examples/*.c "$root"/examples/buggy/*.c; do
  [ -f "$src" ] || continue
  obj=$work/$(echo "${src#"$root"/}" | tr / _).o
  compile "$src" "$obj"
  session+=("$obj")
done
ar rcs "$work/libfray_full.a" "${full[@]}"
ar rcs "$work/libfray_session.a" "${session[@]}"

for src in "$root"/targets/fuzz_*.c; do
  name=$(basename "$src" .c)
  if [ -n "${FRAY_OSS_FUZZ_TARGETS:-}" ]; then
    case " $FRAY_OSS_FUZZ_TARGETS " in *" ${name#fuzz_} "*) ;; *) continue ;; esac
  fi
  # The target's own file is harness: not instrumented (as in CMake).
  AFL_LLVM_DENYLIST=$ignore compile "$src" "$work/$name.o" ${harness[@]+"${harness[@]}"}
  lib=$work/libfray_session.a
  case $name in fuzz_framer | fuzz_script | fuzz_outq) lib=$work/libfray_full.a ;; esac
  # shellcheck disable=SC2086 # LIB_FUZZING_ENGINE may be a flag or a path
  # libfray matches regexes with PCRE2 (libpcre2-dev in the build image).
  $CC $CFLAGS "$work/$name.o" -o "$OUT/$name" $LIB_FUZZING_ENGINE "$lib" -lpcre2-8 -ldl
  rm -f "$OUT/${name}_seed_corpus.zip"
  for d in "$root/corpus/$name/seeds" "$root/corpus/regressions/$name"; do
    [ -d "$d" ] && (cd "$d" && zip -q -j -r "$OUT/${name}_seed_corpus.zip" .)
  done
  dict=$(ls "$root/corpus/$name"/*.dict 2>/dev/null | head -n1 || true)
  short=${name#fuzz_}
  [ -n "$dict" ] || [ ! -f "$root/corpus/dicts/$short.dict" ] || dict=$root/corpus/dicts/$short.dict
  [ -z "$dict" ] || cp "$dict" "$OUT/$name.dict"
  [ ! -f "$root/corpus/$name/$name.options" ] || cp "$root/corpus/$name/$name.options" "$OUT/"
  echo "oss-fuzz-build: $OUT/$name"
done
