# Bad input: one line naming the file and line:column or the flag, exit 125, nothing started,
# nothing left behind (ai-jail #87: never fall back to defaults).

expect_refused() {  # regex for the one-line error
  expect_refusal "$1" "$WS/ran"
  no_leaks
}

test_broken_policy_toml() {
  printf '[tiers.untrusted]\nmemory = "2G"\npids = [1\n' >"$WS/p.toml"
  jc --policy "$WS/p.toml" -- touch "$WS/ran"
  expect_refused "p\.toml:3:"
}

test_policy_unknown_key_and_bad_value() {
  printf 'version = 1\n[tiers.untrusted]\nmemroy = "2G"\n' >"$WS/p.toml"
  jc --policy "$WS/p.toml" --tier untrusted -- touch "$WS/ran"
  expect_refused "p\.toml:3:1: .*unknown key 'memroy'"
  printf 'version = 1\n[tiers.untrusted]\nmemory = "lots"\n' >"$WS/p.toml"
  jc --policy "$WS/p.toml" --tier untrusted -- touch "$WS/ran"
  expect_refused "p\.toml:3:[0-9]+: .*memory"
}

test_missing_policy_file() {
  jc --policy "$WS/nope.toml" -- touch "$WS/ran"
  expect_refused "nope\.toml"
}

test_bad_flags() {
  jc --memory 12x -- touch "$WS/ran"; expect_refused -- "--memory"
  jc --timeout soon -- touch "$WS/ran"; expect_refused -- "--timeout"
  jc --tier root -- touch "$WS/ran"; expect_refused "unknown tier 'root'"
  jc --pids 0 -- touch "$WS/ran"; expect_refused -- "--pids"
  jc --no-such-flag -- touch "$WS/ran"; expect_refused "no-such-flag"
  "$JOBCELL" run --workspace "$WS/missing" -- touch "$WS/ran" >"$OUT" 2>"$ERR"; RC=$?
  expect_refused "workspace .*missing.*ENOENT"
  "$JOBCELL" run --workspace /usr/share -- touch "$WS/ran" >"$OUT" 2>"$ERR"; RC=$?
  expect_refused "overlaps"
  "$JOBCELL" run --workspace "" -- touch "$WS/ran" >"$OUT" 2>"$ERR"; RC=$?
  expect_refused '^jobcell: --workspace: empty \(an unset variable\?\)'
  "$JOBCELL" run --workspace /tmp -- touch "$WS/ran" >"$OUT" 2>"$ERR"; RC=$?
  expect_refused '^jobcell: workspace /tmp: a directory the whole host shares'
  "$JOBCELL" runn -- touch "$WS/ran" >"$OUT" 2>"$ERR"; RC=$?
  expect_refused "^jobcell: unknown command 'runn' \(commands: run, explain, check, gc, gitlab, version\)$"
  "$JOBCELL" cehck >"$OUT" 2>"$ERR"; RC=$?
  expect_refused "^jobcell: unknown command 'cehck'"
}

test_check_command() {
  "$JOBCELL" check >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 0; expect_out 'ok, tiers: internal trusted untrusted'
  printf 'version = 2\n' >"$WS/p.toml"
  "$JOBCELL" check --policy "$WS/p.toml" >"$OUT" 2>"$ERR"; RC=$?
  expect_refused "p\.toml:1:"
}

test_dry_run_starts_nothing() {
  CI_JOB_TOKEN=canary-dry jc --tier trusted --memory 1G --dry-run -- make test
  expect_rc 0
  python3 - "$OUT" "$WS" <<'PY' || fail "dry-run JSON: $(head -c 400 "$OUT")"
import json, sys
spec = json.load(open(sys.argv[1]))
assert spec["tier"] == "trusted" and spec["command"] == ["make", "test"], spec
assert spec["workspace"] == sys.argv[2] and spec["limits"]["memory"] == "1 GiB", spec
assert spec["env"]["CI_JOB_TOKEN"] == "<set>", spec["env"]
PY
  expect_no_out canary-dry
  no_leaks
}

test_a_directory_on_stdio_is_refused() {  # found by our own attack run: `jobcell run ... < /`
  "$JOBCELL" run --workspace "$WS" --tier untrusted -- /bin/sh -c "cat /proc/self/fd/0/etc/hostname; touch $WS/ran" \
    >"$OUT" 2>"$ERR" </
  RC=$?
  expect_refused '^jobcell: stdin \(fd 0\) is a directory: the job could reach the host.s files through /proc/self/fd/0; '
  # an O_PATH descriptor on stdout, as a program would pass it
  python3 - "$JOBCELL" "$WS" >"$OUT" 2>"$ERR" <<'PY'
import os, sys
fd = os.open("/", os.O_PATH)
os.dup2(fd, 1)
os.execv(sys.argv[1], [sys.argv[1], "run", "--workspace", sys.argv[2], "--tier", "untrusted", "--",
                       "/bin/sh", "-c", "touch %s/ran" % sys.argv[2]])
PY
  RC=$?
  expect_refused '^jobcell: stdout \(fd 1\) is an O_PATH descriptor: '
}

test_a_closed_stdin_becomes_dev_null() {
  "$JOBCELL" run --workspace "$WS" --tier untrusted -- /bin/sh -c 'readlink /proc/self/fd/0' >"$OUT" 2>"$ERR" <&-
  RC=$?
  expect_rc 0
  expect_eq "$(cat "$OUT")" /dev/null "the job's stdin"
}

test_audit_path_through_a_symlink_is_refused() {  # found by our attack run
  mkdir "$WS/elsewhere"
  ln -s "$WS/elsewhere" "$WS/linkdir"
  jc --tier untrusted --audit "$WS/linkdir/audit.jsonl" -- touch "$WS/ran"
  expect_refused '^jobcell: audit .*/linkdir/audit.jsonl: ELOOP .*\(the path may not go through a symlink\)$'
  [ ! -e "$WS/elsewhere/audit.jsonl" ] || fail "the record was written through the symlink"
  ln -s "$WS/elsewhere/real.jsonl" "$WS/linkfile"
  jc --tier untrusted --audit "$WS/linkfile" -- touch "$WS/ran"
  expect_refused '^jobcell: audit .*/linkfile: ELOOP'
}
