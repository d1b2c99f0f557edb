# Help and the helper scripts' defaults (label cli): `fray help CMD` prints
# CMD's own help, scripts/demo.sh --help lists every step it runs, and
# scripts/repro.sh finds fray where the README builds it (build-demo/).
if(NOT TARGET fray_cli)
  return()
endif()

add_test(NAME cli.help.command
         COMMAND sh -c [=[
f=$0
out=$("$f" help replay) || { echo "FAIL: fray help replay exit $?" && exit 1
}
printf '%s\n' "$out" | head -n1 | grep -q '^usage: fray replay ' ||
  { echo "FAIL: fray help replay printed: $(printf '%s\n' "$out" | head -n3)" && exit 1
}
[ "$out" = "$("$f" replay --help)" ] || { echo "FAIL: differs from fray replay --help" && exit 1
}
"$f" help frames | head -n1 | grep -q '^usage: fray frames' || { echo "FAIL: fray help frames" && exit 1
}
rc=0 && "$f" help no-such-command 2>/dev/null || rc=$?
[ "$rc" = 2 ] || { echo "FAIL: fray help no-such-command: exit $rc, want 2" && exit 1
}
"$f" help | grep -q '^commands:' || { echo "FAIL: fray help alone is not the general help" && exit 1
}
]=] $<TARGET_FILE:fray_cli>)

add_test(NAME cli.help.demo_steps
         COMMAND bash -c [=[
demo=$0/scripts/demo.sh
help=$(bash "$demo" --help) || exit 1
steps=$(sed -n 's/^STEPS=(\(.*\))$/\1/p' "$demo")
[ -n "$steps" ] || { echo "FAIL: no STEPS=(...) in demo.sh" && exit 1
}
for s in $steps; do
  printf '%s\n' "$help" | grep -Eq "^  $s +[^ ]" || { echo "FAIL: demo.sh --help does not describe step $s" && exit 1
}
done
printf '%s\n' "$help" | grep -q '^Exit status' || { echo "FAIL: --help is cut before its exit status" && exit 1
}
]=] ${PROJECT_SOURCE_DIR})

# repro.sh in a copy of the tree layout whose only fray is build-demo/fray,
# with no fray on the PATH: it must find that one.
add_test(NAME cli.help.repro_default_fray
         COMMAND sh -c [=[
f=$0 src=$1 d=$2 && rm -rf "$d" && mkdir -p "$d/scripts" "$d/build-demo" || exit 1
cp "$src/scripts/repro.sh" "$d/scripts/" && ln -s "$f" "$d/build-demo/fray" || exit 1
printf 'x' >"$d/crash"
out=$(PATH=/usr/bin:/bin bash "$d/scripts/repro.sh" "$d/crash" --target echo 2>&1) ||
  { echo "FAIL: repro.sh: $out" && exit 1
}
printf '%s\n' "$out" | grep -q '^== decoded session (echo)' || { echo "FAIL: repro.sh did not run fray: $out" && exit 1
}
]=] $<TARGET_FILE:fray_cli> ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/tests/cli-help-work)
set_tests_properties(cli.help.command cli.help.demo_steps cli.help.repro_default_fray
  PROPERTIES TIMEOUT 30 LABELS cli)
