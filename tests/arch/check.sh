#!/usr/bin/env bash
# tests/arch/check.sh ROOT WHAT: the tree's own rules, as tests.
#   layers  harness/src/core/ (the runtime a handler runs on) includes nothing
#           from session/ or run/, nor a public header of theirs; session/
#           includes nothing from run/, nor a public header of the run layer
#           (the player, its transports, verdicts). The data flow reads off
#           the folders only while this holds (docs/architecture.md).
#   format  every tracked C file matches .clang-format (clang-format 14).
set -uo pipefail
root=${1:?ROOT} what=${2:?layers|format}
cd "$root" || exit 2
bad=0
case $what in
  layers)
    # Public headers of the runtime layer (version.h, generated from
    # project(VERSION), depends on nothing); every other fray/*.h belongs to
    # a layer above it.
    core_public='fray/(common|framer|outq|handler|driver|version)\.h'
    # Public headers of the run layer: what runs a session and judges it.
    run_public='fray/(player|sim|net|result)\.h'
    while IFS= read -r hit; do
      file=${hit%%:*}
      inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$hit")
      case $file in
        harness/src/core/*)
          case $inc in
            core/*) ;;
            fray/*) [[ $inc =~ ^$core_public$ ]] || { echo "$hit: core/ includes $inc, a header of a layer above"; bad=1; } ;;
            *) echo "$hit: core/ includes $inc from outside core/"; bad=1 ;;
          esac ;;
        harness/src/session/*)
          case $inc in
            run/*) echo "$hit: session/ includes $inc from run/"; bad=1 ;;
            fray/*) [[ $inc =~ ^$run_public$ ]] && { echo "$hit: session/ includes $inc, a header of the run layer"; bad=1; } ;;
          esac ;;
      esac
    done < <(grep -rn '#include "' harness/src/core harness/src/session)
    # Public headers of the runtime must not reach upward either.
    for h in common framer outq handler driver; do
      grep -nE '#include "fray/' "harness/include/fray/$h.h" | grep -vE "\"$core_public\"" |
        sed "s|^|harness/include/fray/$h.h:|;s|\$|: a runtime header includes a header of a layer above|" |
        grep . && bad=1
    done
    [ $bad = 0 ] && echo "layers: core/ and session/ include nothing from the layers above them"
    ;;
  format)
    command -v clang-format >/dev/null || { echo "format: clang-format not found (scripts/deps.sh installs it)"; exit 1; }
    n=0
    while IFS= read -r f; do
      n=$((n + 1))
      if ! clang-format --style=file "$f" | cmp -s - "$f"; then
        echo "format: $f differs from .clang-format (fix: clang-format -i $f)"
        bad=1
      fi
    done < <(git ls-files '*.c' '*.h' 2>/dev/null || find harness targets tests examples bench -name '*.[ch]')
    [ $bad = 0 ] && echo "format: $n C files match .clang-format"
    ;;
  *) echo "check.sh: unknown check '$what'" >&2; exit 2 ;;
esac
exit $bad
