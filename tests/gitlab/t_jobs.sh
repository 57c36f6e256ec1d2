# Whole jobs through `jobcell gitlab`, as GitLab Runner drives them.

test_success_whole_job() {
  response 101 protected-main
  gl 101 config; expect_rc 0 "config"
  grep -q '"builds_dir":"/builds"' "$OUT" && grep -q '"builds_dir_is_shared":false' "$OUT" &&
    grep -q '"driver":{"name":"jobcell"' "$OUT" || fail "config JSON: $(cat "$OUT")"
  gl 101 prepare; expect_rc 0 "prepare"
  expect_out '^jobcell: job 101: tier trusted \(rule protected-ref\)$'
  local s
  for s in "${STAGES_RUNNER_BEFORE[@]}"; do
    stage 101 "$s" 'echo "runner stage" >>"$CI_PROJECT_DIR/log"'; expect_rc 0 "$s"
  done
  stage 101 step_script 'test "$(wc -l <log)" = 4; id -un; echo built >artifact; echo cached >/cache/deps'
  expect_rc 0 "step_script"
  grep -qx job "$OUT" || fail "the script did not run as the job user: $(cat "$OUT")"
  stage 101 after_script 'test -f artifact'; expect_rc 0 "after_script"
  for s in "${STAGES_RUNNER_AFTER[@]}"; do
    stage 101 "$s" 'test "$(cat artifact)" = built'; expect_rc 0 "$s"
  done
  [ "$(cat "$GL/state/jobs/101/builds/acme/widget/artifact")" = built ] || fail "workspace not persistent on the host"
  [ "$(cat "$GL/state/cache/trusted/4711/deps")" = cached ] || fail "the trusted tier's cache was not written"
  [ ! -e "$GL/runner/101/exit_code" ] || fail "BUILD_EXIT_CODE_FILE written for a job that succeeded"
  gl 101 cleanup; expect_rc 0 "cleanup"
  expect_clean 101
  gl 101 cleanup; expect_rc 0 "second cleanup"; expect_out 'nothing to remove'
}

test_failing_step_is_a_build_failure() {
  response 102 branch
  gl 102 prepare; expect_rc 0
  stage 102 get_sources 'true'; expect_rc 0
  stage 102 step_script 'echo before; false; echo never'
  expect_rc $BUILD_FAILURE "failing step"
  [ "$(cat "$GL/runner/102/exit_code")" = 1 ] || fail "BUILD_EXIT_CODE_FILE: '$(cat "$GL/runner/102/exit_code" 2>&1)', expected 1"
  grep -q never "$OUT" && fail "set -eo pipefail did not stop the script"
  stage 102 build_script 'exit 42'; expect_rc $BUILD_FAILURE
  [ "$(cat "$GL/runner/102/exit_code")" = 42 ] || fail "BUILD_EXIT_CODE_FILE: expected 42"
  stage 102 after_script 'true'; expect_rc 0 "after_script after a failure"
  stage 102 upload_artifacts_on_failure 'true'; expect_rc 0
  gl 102 cleanup; expect_rc 0
  expect_clean 102
}

test_oom_and_timeout_are_build_failures() {
  response 103 fork-mr
  gl 103 prepare; expect_rc 0
  local policy=$GL/policy.toml
  sed -e '/^\[tiers.untrusted\]/,/^\[/ s/^memory = .*/memory = "64M"/' \
      -e '/^\[tiers.untrusted\]/,/^\[/ s/^timeout = .*/timeout = "2s"/' \
      -e '/^\[tiers.untrusted\]/,/^\[/ s/^kill_grace = .*/kill_grace = "1s"/' \
      "$GL_DIR/../../profiles/policy.toml" >"$policy"
  gl 103 run --policy "$policy" "$(script 103 step_script 'python3 -c "b = bytearray(256 << 20); print(len(b))"')" step_script
  expect_rc $BUILD_FAILURE "out of memory"
  expect_err "out of memory \\(limit 64 MiB\\)"
  # The runner's `: | eval` subshell reports the killed command as a plain failure.
  grep -Eqx '[1-9][0-9]*' "$GL/runner/103/exit_code" || fail "OOM exit code '$(cat "$GL/runner/103/exit_code")'"
  gl 103 run --policy "$policy" "$(script 103 build_script 'sleep 30')" build_script
  expect_rc $BUILD_FAILURE "timeout"
  expect_err 'timed out after 2s'
  [ "$(cat "$GL/runner/103/exit_code")" = 124 ] || fail "timeout exit code"
  gl 103 cleanup; expect_rc 0
  expect_clean 103
}

IFACES='awk -F: "NR > 2 {gsub(/ /, \"\", \$1); print \$1}" /proc/net/dev | sort | tr "\n" " "'
test_fork_mr_user_stages_have_no_network() {
  response 104 fork-mr
  gl 104 prepare; expect_rc 0
  expect_out '^jobcell: job 104: tier untrusted '
  expect_out 'runner stages: network allowlist \(gitlab.example.test:443\); user stages: network none'
  # The runner stage gets a veth to reach the GitLab server (no traffic is sent here; the
  # allowlist itself is pinned by the unit tests).
  stage 104 get_sources "$IFACES"; expect_rc 0
  grep -q 'eth0' "$OUT" || fail "get_sources has no network interface: $(cat "$OUT")"
  stage 104 build_script "$IFACES"'; echo; exec 3<>/dev/tcp/192.0.2.1/80 || echo "connect failed"'
  expect_rc 0
  [ "$(head -1 "$OUT")" = "lo " ] || fail "user stage sees interfaces: $(head -1 "$OUT")"
  expect_err 'Network is unreachable'
  expect_out 'connect failed'
  stage 104 step_script 'getent hosts gitlab.example.test || echo "no name service"'
  expect_out 'no name service'
  gl 104 cleanup; expect_rc 0
  expect_clean 104
}

test_job_variables_cannot_raise_trust_or_pick_state() {
  response 105 fork-mr
  # A merge request's .gitlab-ci.yml sets these; the runner passes them as CUSTOM_ENV_*.
  GL_EXTRA_ENV=(CUSTOM_ENV_CI_COMMIT_REF_PROTECTED=true CUSTOM_ENV_CI_JOB_ID=101 CUSTOM_ENV_CI_PIPELINE_SOURCE=push)
  gl 105 prepare; expect_rc 0
  expect_out '^jobcell: job 105: tier untrusted '
  [ -e "$GL/state/jobs/105/decision.json" ] && [ ! -e "$GL/state/jobs/101" ] || fail "state not keyed on the response's id"
  # A second prepare cannot re-decide, and nothing a stage does changes the decision.
  response 105 protected-main
  gl 105 prepare; expect_rc $SYSTEM_FAILURE "second prepare"
  expect_err 'prepared already'
  stage 105 step_script 'ls -ld /jobcell/stage; touch /jobcell/stage/x 2>&1 || true'
  expect_rc 0; expect_out 'Read-only file system'
  grep -q '"tier":"untrusted"' "$GL/state/jobs/105/decision.json" || fail "the decision changed"
  GL_EXTRA_ENV=()
  gl 105 cleanup; expect_rc 0
  expect_clean 105
}

test_cache_is_split_by_tier() {
  response 106 protected-main
  response 107 fork-mr
  gl 106 prepare; expect_rc 0
  gl 107 prepare; expect_rc 0
  stage 106 archive_cache 'echo trusted >/cache/deps.tar'; expect_rc 0
  stage 107 restore_cache 'ls -A /cache | tr "\n" " "; echo; echo poisoned >/cache/deps.tar'; expect_rc 0
  [ -z "$(head -1 "$OUT")" ] || fail "the untrusted job sees the trusted cache: $(head -1 "$OUT")"
  stage 106 restore_cache 'cat /cache/deps.tar'; expect_rc 0
  expect_out '^trusted$'
  gl 106 cleanup; gl 107 cleanup
  expect_clean 106 107
}

test_bad_policy_and_missing_state_are_system_failures() {
  response 108 branch
  printf 'version = 1\n[tiers.x]\nmemroy = "1G"\n' >"$GL/bad.toml"
  gl 108 config --policy "$GL/bad.toml"; expect_rc $SYSTEM_FAILURE "config, bad policy"
  expect_err "bad.toml:3:1: unknown key 'memroy'"
  gl 108 prepare --policy "$GL/bad.toml"; expect_rc $SYSTEM_FAILURE "prepare, bad policy"
  stage 108 build_script 'true'; expect_rc $SYSTEM_FAILURE "run before prepare"
  expect_err 'not prepared'
  gl 108 prepare; expect_rc 0
  gl 108 run --policy "$GL/bad.toml" "$(script 108 build_script true)" build_script
  expect_rc $SYSTEM_FAILURE "run, bad policy"
  chmod 644 "$GL/state/jobs/108/decision.json"
  stage 108 build_script 'true'; expect_rc $SYSTEM_FAILURE "tampered decision"
  expect_err 'expected mode 0600'
  gl 108 run "$(script 108 build_script true)" 'Build Script'; expect_rc $SYSTEM_FAILURE "bad stage name"
  gl 108 run; expect_rc $SYSTEM_FAILURE "missing arguments"
  gl 108 cleanup --policy "$GL/bad.toml"; expect_rc $SYSTEM_FAILURE "cleanup, bad policy"
  expect_clean 108  # ... which still removed the job
  response 109 garbage
  gl 109 prepare; expect_rc $SYSTEM_FAILURE "garbage response"
  expect_err 'invalid JSON'
  gl 109 cleanup; expect_rc $SYSTEM_FAILURE "cleanup cannot tell which job"
  ! ls -A "$GL/state/jobs" | grep -q . || fail "state left: $(ls -A "$GL/state/jobs")"
}

# Starts `jobcell gitlab run` for a long stage in its own process group, as the runner does;
# sets BG to its pid once its cell is running.
start_long_stage() {  # ID STAGE BODY
  local path
  path=$(script "$1" "$2" "$3")
  OUT=$GL/runner/$1/out ERR=$GL/runner/$1/err
  gl_env_words "$1"
  setsid "${GLENV[@]}" "$JOBCELL" gitlab run "$path" "$2" >"$OUT" 2>"$ERR" </dev/null &
  BG=$!
  GL_PIDS+=("$BG")
  wait_for grep -q started "$GL/state/jobs/$1/builds/marker" 2>/dev/null || fail "the stage did not start: $(cat "$ERR")"
}
cell_alive() { pgrep -f "[s]leep 3$1" >/dev/null; }

test_cancel_sigterm_then_sigkill_then_cleanup() {
  response 110 branch
  gl 110 prepare; expect_rc 0
  # The job ignores SIGTERM, so the runner's graceful_kill_timeout (2 s here) runs out and it
  # sends SIGKILL to the process group.
  start_long_stage 110 step_script 'trap "" TERM; echo started >/builds/marker; sleep 301; wait'
  cell_alive 01 || fail "no cell"
  local t0=$SECONDS
  kill -TERM -- "-$BG"
  sleep 2
  kill -KILL -- "-$BG" 2>/dev/null
  wait "$BG" 2>/dev/null
  wait_for bash -c '! pgrep -f "[s]leep 301" >/dev/null' || fail "the cell outlived SIGKILL of jobcell"
  [ $((SECONDS - t0)) -le 8 ] || fail "the cell took $((SECONDS - t0)) s to go"
  gl 110 cleanup; expect_rc 0
  expect_clean 110
}

# SIGTERM alone (the runner's cancel when the job stops within graceful_kill_timeout): the
# supervisor passes it to the script's shell, which ends, and the whole cell goes with it. (The
# runner's script runs the job's commands in a `: | eval` subshell, so a trap set there does
# not see this SIGTERM: the top-level shell gets it, as jobcell's init forwards to its child.)
test_cancel_sigterm_ends_the_stage() {
  response 111 branch
  gl 111 prepare; expect_rc 0
  start_long_stage 111 build_script 'echo started >/builds/marker; sleep 302 & wait'
  local t0=$SECONDS
  kill -TERM -- "-$BG"
  wait "$BG"; local rc=$?
  [ "$rc" -eq $BUILD_FAILURE ] || fail "a cancelled stage exited $rc, expected $BUILD_FAILURE"
  [ "$(cat "$GL/runner/111/exit_code")" = 143 ] || fail "exit code file: $(cat "$GL/runner/111/exit_code")"
  wait_for bash -c '! pgrep -f "[s]leep 302" >/dev/null' || fail "the cell outlived the stage"
  [ $((SECONDS - t0)) -le 5 ] || fail "the stage took $((SECONDS - t0)) s to stop"
  gl 111 cleanup; expect_rc 0
  expect_clean 111
}

test_stage_killed_mid_run_then_cleanup() {
  response 112 fork-mr
  gl 112 prepare; expect_rc 0
  start_long_stage 112 step_script 'echo started >/builds/marker; sleep 303'
  kill -KILL "$BG"  # jobcell alone: no SIGTERM first, no chance to clean up
  wait "$BG" 2>/dev/null
  wait_for bash -c '! pgrep -f "[s]leep 303" >/dev/null' || fail "the cell outlived its SIGKILLed jobcell"
  ls -d /sys/fs/cgroup/jobcell-* /sys/fs/cgroup/*/jobcell-* >/dev/null 2>&1 || echo "note: no cgroup was left to collect"
  gl 112 cleanup; expect_rc 0
  expect_clean 112
}

test_cleanup_stops_a_stage_still_running() {
  response 113 branch
  gl 113 prepare; expect_rc 0
  start_long_stage 113 build_script 'echo started >/builds/marker; sleep 304'
  gl 113 cleanup; expect_rc 0
  wait "$BG" 2>/dev/null
  expect_clean 113
}

test_two_jobs_of_one_project_concurrently() {
  response 114 branch
  response 115 branch
  gl 114 prepare; expect_rc 0
  gl 115 prepare; expect_rc 0
  local pids=() id
  for id in 114 115; do
    ( stage "$id" get_sources "echo $id >mine; ls /builds/acme/widget"; [ "$RC" -eq 0 ] || exit 1
      stage "$id" build_script "sleep 1; test \"\$(cat mine)\" = $id; ls -A | tr '\n' ' '"; [ "$RC" -eq 0 ] || exit 2
      [ "$(cat "$OUT")" = "mine " ] || exit 3 ) &
    pids+=($!)
  done
  for id in 0 1; do wait "${pids[$id]}" || fail "job $((114 + id)) failed (step $?)"; done
  gl 114 cleanup; gl 115 cleanup
  expect_clean 114 115
}

test_eight_jobs_at_once() {
  local id pids=()
  for id in $(seq 120 127); do response "$id" fork-mr; done
  for id in $(seq 120 127); do
    ( gl "$id" prepare; [ "$RC" -eq 0 ] || exit 1
      stage "$id" get_sources 'echo src >f'; [ "$RC" -eq 0 ] || exit 2
      stage "$id" build_script "test \"\$(cat f)\" = src; echo $id >out"; [ "$RC" -eq 0 ] || exit 3
      [ "$(cat "$GL/state/jobs/$id/builds/acme/widget/out")" = "$id" ] || exit 4
      gl "$id" cleanup; [ "$RC" -eq 0 ] || exit 5 ) &
    pids+=($!)
  done
  local i=0
  for id in $(seq 120 127); do
    wait "${pids[$i]}" || fail "job $id failed at step $? ($(cat "$GL/runner/$id/err" | head -3))"
    i=$((i + 1))
  done
  expect_clean $(seq 120 127)
}

test_cleanup_removes_a_tree_deeper_than_its_descriptor_limit() {  # found by our attack run
  response 121 fork-mr
  gl 121 prepare; expect_rc 0
  stage 121 build_script "python3 -c '
import os
for _ in range(1500):
    os.mkdir(\"a\"); os.chdir(\"a\")
open(\"deepest\", \"w\").write(\"x\")
'"
  expect_rc 0 "build_script"
  # a service's usual soft limit; the tree is deeper than that
  OUT=$GL/runner/121/out ERR=$GL/runner/121/err
  (ulimit -n 256; gl_env 121 "$JOBCELL" gitlab cleanup >"$OUT" 2>"$ERR" </dev/null)
  RC=$?
  expect_rc 0 "cleanup of a 1500-deep workspace"
  expect_clean 121
}
