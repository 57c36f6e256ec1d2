# Exit status, signals, timeouts, and that nothing outlives the job or the launcher.

test_exit_status_contract() {
  for c in '0:true' '42:exit 42' '134:kill -ABRT $$' '143:kill -TERM $$' '3:(sleep 1; exit 0) & exit 3' '127:/no/such/cmd'; do
    jsh "${c#*:}"; expect_rc "${c%%:*}" "'${c#*:}'"
  done
  printf '#!/bin/sh\necho hi\n' >"$WS/noexec.sh"; chmod 644 "$WS/noexec.sh"
  jc --tier untrusted -- "$WS/noexec.sh"; expect_rc 126 "non-executable file"
  expect_err 'cannot execute'
  jc --tier untrusted -- no-such-binary-xyz; expect_rc 127 "missing command"
  expect_err 'no-such-binary-xyz: command not found'
}

test_stdio_passes_through() {
  out=$(echo hello | "$JOBCELL" run --workspace "$WS" --tier untrusted -- /bin/cat)
  expect_eq "$out" hello "stdin to stdout"
}

test_timeout_is_124_and_says_so() {
  local t0=$SECONDS
  jc --tier untrusted --timeout 1s --kill-grace 1s -- /bin/sh -c 'trap "" TERM; sleep 60'
  expect_rc 124
  expect_err 'timed out after 1s'
  [ $((SECONDS - t0)) -lt 10 ] || fail "took $((SECONDS - t0)) s"
  no_leaks
}

test_timeout_lets_the_job_clean_up_first() {
  jc --tier untrusted --timeout 1s --kill-grace 5s -- /bin/bash -c 'trap "echo cleaned >$PWD/cleanup; exit 5" TERM; sleep 60 & wait'
  expect_rc 124
  [ "$(cat "$WS/cleanup" 2>/dev/null)" = cleaned ] || fail "the job's TERM handler did not run"
}

test_daemons_die_with_the_job() {  # bubblewrap #529
  jsh 'setsid sh -c "exec -a jobcell_it_daemon sleep 300" </dev/null >/dev/null 2>&1 & (sleep 301 &) ; exit 0'
  expect_rc 0
  sleep 0.5
  if pgrep -f 'jobcell_it_daemon|sleep 30[01]' >/dev/null; then pkill -f 'jobcell_it_daemon|sleep 30[01]'; fail "a daemon survived the job"; fi
  no_leaks
}

test_launcher_sigkill_takes_the_cell_and_gc_cleans_up() {  # bubblewrap #633
  "$JOBCELL" run --workspace "$WS" --tier untrusted -- /bin/sh -c 'exec -a jobcell_it_orphan sleep 300' >/dev/null 2>&1 &
  local pid=$!
  sleep 1
  kill -9 $pid; wait $pid 2>/dev/null
  sleep 0.5
  if pgrep -f jobcell_it_orphan >/dev/null; then pkill -f jobcell_it_orphan; fail "the job survived its launcher"; fi
  out=$("$JOBCELL" gc)
  [[ $out == "gc: removed "* ]] || fail "gc said '$out'"
  no_leaks
}

test_sigterm_reaches_the_job() {
  "$JOBCELL" run --workspace "$WS" --tier untrusted -- /bin/bash -c 'trap "exit 9" TERM; sleep 60 & wait' >/dev/null 2>&1 &
  local pid=$!
  sleep 1; kill -TERM $pid; wait $pid; RC=$?
  expect_rc 9 "exit status after SIGTERM"
}

test_sigterm_reaches_the_jobs_children_too() {
  # as from a terminal or GitLab Runner: the job's whole process group gets the signal, so a
  # shell's child with its own trap cleans up too (without, it would sleep its 20 s out)
  # shellcheck disable=SC2016  # expanded in the cell
  "$JOBCELL" run --workspace "$WS" --tier untrusted -- /bin/sh -c 'trap "echo top got TERM" TERM
    sh -c "trap \"echo child got TERM; exit 0\" TERM; touch started; sleep 20 & wait"; echo done' >"$OUT" 2>"$ERR" </dev/null &
  local pid=$! n
  for ((n = 0; n < 100; n++)); do [ -e "$WS/started" ] && break; sleep 0.1; done
  [ -e "$WS/started" ] || fail "the job did not start"
  kill -TERM $pid; wait $pid; RC=$?
  expect_rc 0 "exit status after SIGTERM"
  expect_out '^child got TERM$'
  expect_out '^top got TERM$'
  expect_out '^done$'
}

test_concurrent_cells() {
  local pids=() i
  for i in 1 2 3 4 5 6; do
    mkdir -p "$WS/$i"
    "$JOBCELL" run --workspace "$WS/$i" --tier untrusted -- /bin/sh -c "echo cell-$i >out; exit $i" >/dev/null 2>&1 &
    pids+=($!)
  done
  for i in 1 2 3 4 5 6; do wait "${pids[$((i - 1))]}"; RC=$?; expect_rc "$i" "cell $i"; done
  for i in 1 2 3 4 5 6; do expect_eq "$(cat "$WS/$i/out")" "cell-$i" "cell $i output"; done
  no_leaks
}

test_audit_record() {
  jc --tier untrusted --audit "$WS/audit.jsonl" -- /bin/sh -c 'exit 3'
  jc --tier untrusted --audit "$WS/audit.jsonl" --memory 32M -- /usr/bin/python3 -c 'x=bytearray(10**9)'
  [ "$(wc -l <"$WS/audit.jsonl")" -eq 2 ] || fail "expected 2 records"
  python3 - "$WS/audit.jsonl" <<'PY' || fail "audit record"
import json, sys
a, b = [json.loads(l) for l in open(sys.argv[1])]
assert a["tier"] == "untrusted" and a["exit_code"] == 3 and a["outcome"] == "exited", a
assert a["peak_memory_bytes"] > 0 and "spec" in a, a
assert b["outcome"] == "oom" and b["exit_code"] == 137 and b["oom_kills"] >= 1, b
PY
}

test_inherited_fds_are_closed() {  # runc CVE-2024-21626 class
  needs python3
  echo canary-fd-it >"$WS/.secret"
  "$JOBCELL" run --workspace "$WS" --tier untrusted -- /usr/bin/python3 -c '
import os
for fd in sorted(int(f) for f in os.listdir("/proc/self/fd")):
    try:
        print(fd, os.readlink("/proc/self/fd/%d" % fd))
    except OSError as e:
        print(fd, "gone")
print("cwd", os.getcwd())
' >"$OUT" 2>"$ERR" </dev/null 3<"$WS/.secret" 7<"$WS/.secret" 9</ 42>"$WS/.w"
  RC=$?
  expect_rc 0
  # 0-2 are the job's; the one more is listdir's own directory fd, seen from inside
  extra=$(awk '$1 > 2 && $1 != "cwd" && $2 !~ "^/proc/[0-9]+/fd$" && $2 != "gone"' "$OUT")
  [ -z "$extra" ] || fail "inherited fds reached the job: $extra"
  expect_out "^cwd $WS\$"
}
