# A real job: the example project builds and passes its tests in an untrusted cell, every
# attack in its script fails for the right reason, and (gVisor's habit) the build gives the
# same results inside and outside the cell.

test_example_job() {
  needs make cc python3
  "$IT_DIR/example_job.sh" "$JOBCELL" || fail "example job"
}

test_build_conformance_inside_and_outside() {
  needs make cc
  local root; root=$(cd "$IT_DIR/../.." && pwd)
  cp -r "$root/examples/widget" "$WS/host"; cp -r "$root/examples/widget" "$WS/cell"
  make -s -C "$WS/host" test >"$WS/host.out" 2>&1 || fail "host build failed"
  "$JOBCELL" run --workspace "$WS/cell" --tier untrusted -- make -s test >"$WS/cell.out" 2>&1 || fail "cell build failed: $(tail -5 "$WS/cell.out")"
  diff <(sed "s#$WS/host#W#g" "$WS/host.out") <(sed "s#$WS/cell#W#g" "$WS/cell.out") >/dev/null ||
    fail "results differ: $(diff "$WS/host.out" "$WS/cell.out" | head -5)"
  cmp -s <(cd "$WS/host" && find . -type f | sort) <(cd "$WS/cell" && find . -type f | sort) ||
    fail "different files were built"
}
