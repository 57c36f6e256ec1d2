# Helpers for integration tests (sourced). Every test gets a fresh workspace $WS (root-owned,
# 0755, like a runner's build directory) that is removed however the test ends.
set -u
it_begin() {
  WS=$(mktemp -d /tmp/jobcell-it.XXXXXX)
  chmod 755 "$WS"
  OUT=$WS/.out ERR=$WS/.err
  trap it_cleanup EXIT
}
it_cleanup() {
  local rc=$?
  [ -n "${it_extra_cleanup:-}" ] && eval "$it_extra_cleanup"
  rm -rf "$WS"
  exit $rc
}
it_end() { exit 0; }
fail() { echo "FAIL: $*"; [ -s "${ERR:-/dev/null}" ] && sed 's/^/  stderr: /' "$ERR" | head -5; exit 1; }
skip() { echo "SKIP: $*"; exit 3; }
needs() { for t in "$@"; do command -v "$t" >/dev/null 2>&1 || skip "host lacks '$t'"; done; }

# jc [run options] -- COMMAND...: runs a cell on $WS; stdout in $OUT, stderr in $ERR; sets RC.
jc() {
  "$JOBCELL" run --workspace "$WS" "$@" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  return 0
}
# Runs a shell snippet in an untrusted cell.
jsh() { jc --tier untrusted -- /bin/sh -c "$1"; }

expect_rc() { [ "$RC" -eq "$1" ] || fail "${2:-exit status} $RC, expected $1"; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }
expect_out() { grep -Eq -- "$1" "$OUT" || fail "stdout lacks /$1/: $(head -c 300 "$OUT")"; }
expect_no_out() { ! grep -Eq -- "$1" "$OUT" || fail "stdout has /$1/: $(grep -Em1 -- "$1" "$OUT")"; }
expect_err() { grep -Eq -- "$1" "$ERR" || fail "stderr lacks /$1/: $(head -c 300 "$ERR")"; }
# The probe binary, copied into the workspace so the cell can run it.
probe() { cp "$PROBE" "$WS/probe"; jc --tier untrusted -- "$WS/probe" "$@"; }
expect_probe() {  # name expected-result
  grep -qx "$1: $2" "$OUT" || fail "$1: $(grep "^$1:" "$OUT" || echo 'no output'), expected $2"
}
# jobcell refused the run: exit 125, one line on stderr matching the regex, the job never ran
# (it would have created the file given as $2).
expect_refusal() {  # regex ran-file
  expect_rc 125
  [ "$(wc -l <"$ERR")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$ERR")"
  expect_err "$1"
  [ ! -e "$2" ] || fail "the job ran"
}
no_leaks() { local l; l=$("$IT_DIR/leaks.sh"); [ -z "$l" ] || fail "$l"; }
