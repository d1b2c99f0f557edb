#!/usr/bin/env bash
# scripts/deps.sh: install the Debian packages fray needs, and only those
# that are missing. Safe to run again and again: when everything is present it
# changes nothing, runs no apt-get at all, and takes well under a second.
#
#   scripts/deps.sh                  # the build and test set
#   scripts/deps.sh --with-servers   # also redis-server, memcached and socat (net tests, proxy bench)
#   scripts/deps.sh --dry-run        # say what would be installed, install nothing
#   scripts/deps.sh --extra PKG      # also require PKG (repeatable)
#
# Environment: FRAY_DEPS_DRY_RUN=1 is --dry-run; FRAY_DEPS_EXTRA="a b" adds
# packages like --extra (both exist so the "something is missing" path can be
# tried on a machine that has everything, with a made-up package name).
#
# Exit status: 0 all present (or installed); non-zero (1, or apt-get's own
# code) when an install failed or is impossible (not root and no sudo);
# 2 usage error; with --dry-run, 3 when something would be installed.
set -euo pipefail

# What fray's builds, tests and fuzzers use (see shared TOOLCHAIN.md).
# libclang-rt-14-dev (sanitizer runtimes, libFuzzer) is only a *recommended*
# package of clang, and lld-14 (afl-clang-lto's linker) is not a dependency of
# afl++: with --no-install-recommends both must be named. zip and unzip: the
# OSS-Fuzz build's seed corpora (scripts/oss-fuzz-build.sh) and its test.
CORE_PKGS=(
  build-essential gcc cmake pkg-config
  clang llvm lld-14 libclang-rt-14-dev
  libcmocka-dev libevent-dev libpcap-dev libpcre2-dev
  afl++ python3
  zip unzip
  clang-format
)
# Real servers for the TCP replay tests; optional until those tests exist.
SERVER_PKGS=(redis-server memcached socat)

dry_run=${FRAY_DEPS_DRY_RUN:-0}
with_servers=0
read -r -a extra <<<"${FRAY_DEPS_EXTRA:-}"

while [ $# -gt 0 ]; do
  case $1 in
    --with-servers) with_servers=1 ;;
    --dry-run | -n) dry_run=1 ;;
    --extra)
      [ $# -ge 2 ] || { echo "deps: --extra needs a package name" >&2; exit 2; }
      extra+=("$2")
      shift
      ;;
    -h | --help)
      sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) echo "deps: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

want=("${CORE_PKGS[@]}")
[ "$with_servers" = 1 ] && want+=("${SERVER_PKGS[@]}")
want+=("${extra[@]}")

# dpkg-query's db:Status-Abbrev is "ii " for a fully installed package; a
# package that is removed but not purged ("rc") or half-installed counts as
# missing so that apt-get repairs it.
is_installed() {
  local status
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
  [ "${status:0:2}" = ii ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: dpkg-query not found: this script knows Debian and its derivatives only." >&2
  echo "deps: install by hand: ${want[*]}" >&2
  exit 1
fi

missing=()
for p in "${want[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#want[@]} packages present (${want[*]})"
  exit 0
fi

echo "deps: missing: ${missing[*]}"
if [ "$dry_run" = 1 ]; then
  echo "deps: dry run: would run apt-get update, then apt-get install --no-install-recommends ${missing[*]}"
  exit 3
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  # sudo asks for a password on the terminal, not on stdin: with a terminal a
  # person can answer; without one (CI, cron) -n makes it fail at once rather
  # than wait.
  if (: </dev/tty) 2>/dev/null; then
    sudo=(sudo)
  else
    sudo=(sudo -n)
  fi
else
  echo "deps: not root and no sudo: as root, run: apt-get install ${missing[*]}" >&2
  exit 1
fi

# Nothing below may wait for a human: no stdin, no debconf questions, and a
# bounded wait on the dpkg lock when another apt is running.
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef
  -o Dpkg::Options::=--force-confold)

echo "deps: apt-get update"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update </dev/null
echo "deps: apt-get install --no-install-recommends ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}" </dev/null

# Check again: apt-get can succeed without installing a name it resolved to
# something else (a virtual package), which would surface later as a
# confusing build error.
still=()
for p in "${missing[@]}"; do
  is_installed "$p" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
  echo "deps: still missing after apt-get install: ${still[*]}" >&2
  exit 1
fi
echo "deps: installed ${#missing[@]} package(s): ${missing[*]}"
