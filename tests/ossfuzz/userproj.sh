#!/usr/bin/env bash
# tests/ossfuzz/userproj.sh BUILD WORK ENGINE SANITIZER: a user's project
# gets its ClusterFuzzLite files from one command and builds with them
# (ENGINE none: steps 1-4 only, no builder).
#   1. fray (the build in BUILD) is installed into WORK/prefix;
#   2. tests/ossfuzz/userproj/ (a project outside fray's tree layout, using
#      find_package(fray) and fray_add_fuzz_target()) is copied to WORK/tally;
#   3. the installed `fray ci init` writes its files; the listing, the seed
#      zips (the SEEDS scripts; every script for a target without SEEDS),
#      the options and the Dockerfile's fray line are checked;
#   4. a second run refuses and writes nothing; --force writes the same bytes;
#      a missing SEEDS script or no target at all: exit 2, nothing written;
#   5. tests/ossfuzz/builder.sh plays the OSS-Fuzz builder with ENGINE and
#      SANITIZER on the generated .clusterfuzzlite/build.sh, fray's source
#      where the Dockerfile's git clone puts it ($SRC/fray), and checks the
#      YAML files, both targets' outputs and a bounded run of each.
# Exit 0 held, 1 with the reason, 77 when the builder cannot run here.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
build=${1:?BUILD} work=${2:?WORK} engine=${3:?ENGINE} san=${4:?SANITIZER}
rm -rf "$work" && mkdir -p "$work"

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
  { tail -n 20 "$work/install.log"; fail "cmake --install failed"; }
fray=$work/prefix/bin/fray
proj=$work/tally
cp -r "$here/userproj" "$proj"
git=https://example.invalid/fray.git

"$fray" ci init --fray-git "$git" "$proj" >"$work/init.log" 2>&1 ||
  { cat "$work/init.log"; fail "fray ci init failed"; }
cat "$work/init.log"
cf=$proj/.clusterfuzzlite
want=("$cf/project.yaml" "$cf/Dockerfile" "$cf/build.sh" "$proj/oss-fuzz/project.yaml")
for w in pr batch cron build; do want+=("$proj/.github/workflows/cflite_$w.yml"); done
for t in fuzz_tally fuzz_tally_plugin; do
  want+=("$cf/${t}_seed_corpus.zip" "$cf/$t.dict" "$cf/$t.options")
done
for f in "${want[@]}"; do
  [ -s "$f" ] || fail "fray ci init did not write ${f#"$proj"/}"
  case $f in *.zip | *.dict | *.options) ;; *)
    grep -q "^wrote ${f#"$proj"/}$" "$work/init.log" || fail "the listing does not name ${f#"$proj"/}" ;;
  esac
done
[ -x "$cf/build.sh" ] || fail "build.sh is not executable"
entries() { unzip -Z1 "$1" | wc -l; }
[ "$(entries "$cf/fuzz_tally_seed_corpus.zip")" = 2 ] || fail "fuzz_tally's zip does not hold its 2 SEEDS"
[ "$(entries "$cf/fuzz_tally_plugin_seed_corpus.zip")" = 2 ] ||
  fail "fuzz_tally_plugin (no SEEDS) is not seeded from the project's 2 scripts"
grep -qx 'dict = fuzz_tally.dict' "$cf/fuzz_tally.options" || fail "fuzz_tally.options names no dictionary"
grep -q '"ADD"' "$cf/fuzz_tally.dict" || fail "the dictionary lacks the scripts' ADD command"
version=$("$fray" --version | sed 's/^fray //')
grep -qxF "RUN git clone --depth 1 --branch v$version $git \$SRC/fray" "$cf/Dockerfile" ||
  fail "the Dockerfile does not clone fray v$version from $git"
grep -qx 'targets="fuzz_tally fuzz_tally_plugin"' "$cf/build.sh" || fail "build.sh does not list both targets"

sums() { find "$proj/.clusterfuzzlite" "$proj/.github" "$proj/oss-fuzz" -type f -exec sha256sum {} + | sort; }
sums >"$work/sums"
if "$fray" ci init --fray-git "$git" "$proj" >"$work/again.log" 2>&1; then
  fail "a second fray ci init overwrote the files"
fi
grep -q 'exists' "$work/again.log" && grep -q 'nothing written; --force overwrites' "$work/again.log" ||
  { cat "$work/again.log"; fail "the refusal does not say why"; }
sums | cmp -s - "$work/sums" || fail "the refused run changed files"
"$fray" ci init --force --fray-git "$git" "$proj" >"$work/force.log" 2>&1 ||
  { cat "$work/force.log"; fail "fray ci init --force failed"; }
sums | cmp -s - "$work/sums" || fail "--force wrote other bytes from the same project"

# Input errors stop it before it writes anything: a SEEDS script that does
# not exist, a project with no fray_add_fuzz_target().
bad=$work/bad
cp -r "$here/userproj" "$bad"
sed -i 's|scripts/count.fray|scripts/missing.fray|' "$bad/fuzz/CMakeLists.txt"
st=0
"$fray" ci init --fray-git "$git" "$bad" >"$work/bad.log" 2>&1 || st=$?
[ "$st" = 2 ] && grep -q "SEEDS 'scripts/missing.fray'" "$work/bad.log" ||
  { cat "$work/bad.log"; fail "a missing SEEDS script: exit $st, not 2 naming it"; }
[ ! -e "$bad/.clusterfuzzlite" ] && [ ! -e "$bad/.github" ] || fail "files written despite the error"
rm "$bad/fuzz/CMakeLists.txt" && sed -i '/add_subdirectory/d' "$bad/CMakeLists.txt"
st=0
"$fray" ci init --fray-git "$git" "$bad" >"$work/bad.log" 2>&1 || st=$?
[ "$st" = 2 ] && grep -q 'no fray_add_fuzz_target()' "$work/bad.log" ||
  { cat "$work/bad.log"; fail "a project without targets: exit $st, not 2 saying so"; }

[ "$engine" != none ] || { echo "ci init: all files written, refused, rewritten identically"; exit 0; }
yaml=()
for f in "${want[@]}"; do case $f in *.yml | *.yaml) yaml+=(--yaml "$f") ;; esac; done
bash "$here/builder.sh" --engine "$engine" --sanitizer "$san" --project "$proj" \
  --build-sh "$cf/build.sh" --work "$work/builder" --with "fray=$root" "${yaml[@]}" \
  --expect fuzz_tally --expect fuzz_tally_plugin
