# Helpers for the GitLab conformance tests (sourced): a fake GitLab Runner.
#
# Each test gets a scratch directory $GL (removed however the test ends) holding
#   $GL/state            jobcell's state root (JOBCELL_GITLAB_STATE_DIR)
#   $GL/runner           the runner's per-job temp dir (TMPDIR): root-owned 0700, like the real one
#   $GL/runner/<id>/...  each job's response.json (0600), stage scripts (0700), exit code file
# Every job a test prepares is cleaned up on exit, even when the test failed half-way.
set -u
BUILD_FAILURE=37   # the runner's BUILD_FAILURE_EXIT_CODE / SYSTEM_FAILURE_EXIT_CODE, as it
SYSTEM_FAILURE=38  # sets them (distinct from every code a shell uses, so a mix-up shows)

gl_begin() {
  [ "$(id -u)" -eq 0 ] || skip "jobcell gitlab needs root (rootless mode is not built)"
  GL=$(mktemp -d /tmp/jobcell-gl.XXXXXX)
  chmod 755 "$GL"
  mkdir -m 700 "$GL/state" "$GL/runner"
  export JOBCELL_GITLAB_STATE_DIR=$GL/state
  GL_JOBS=() GL_PIDS=()
  trap gl_cleanup EXIT
}
gl_cleanup() {
  local rc=$? pid id
  for pid in "${GL_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; done
  for id in "${GL_JOBS[@]}"; do gl_env "$id" "$JOBCELL" gitlab cleanup >/dev/null 2>&1; done
  rm -rf "$GL"
  exit $rc
}
gl_end() { exit 0; }
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 3; }
needs() { for t in "$@"; do command -v "$t" >/dev/null 2>&1 || skip "host lacks '$t'"; done; }

# response ID KIND [PROJECT]: writes job ID's response.json, shaped like the runner's (its own
# copy of the server's job payload). KIND: protected-main | branch | fork-mr | garbage.
response() {
  local id=$1 kind=$2 project=${3:-4711} dir=$GL/runner/$1 git
  mkdir -p -m 700 "$dir"
  local url=${GL_REPO_URL:-"https://gitlab-ci-token:glcbt-64_canary@gitlab.example.test/acme/widget.git"}
  case $kind in
    protected-main) git='"ref": "main", "ref_type": "branch", "refspecs": ["+refs/pipelines/1:refs/pipelines/1", "+refs/heads/main:refs/remotes/origin/main"], "protected": true' ;;
    branch) git='"ref": "feature", "ref_type": "branch", "refspecs": ["+refs/heads/feature:refs/remotes/origin/feature"], "protected": false' ;;
    fork-mr) git='"ref": "refs/merge-requests/77/head", "ref_type": "branch", "refspecs": ["+refs/merge-requests/77/head:refs/remotes/origin/patch-1"], "protected": false' ;;
    garbage) printf '{"id": "not-a-job"' >"$dir/response.json"; chmod 600 "$dir/response.json"; return ;;
  esac
  cat >"$dir/response.json" <<JSON
{"id": $id, "token": "glcbt-64_canary", "allow_git_fetch": true,
 "job_info": {"name": "test", "stage": "test", "project_id": $project, "project_name": "widget", "project_full_path": "acme/widget"},
 "git_info": {"repo_url": "$url", "sha": "3f1c0de5a1e2b7c9d4f6a8b0c2e4f6a8b0c2e4f6", "depth": 20, $git},
 "variables": [{"key": "CI_JOB_ID", "value": "$id", "public": true, "masked": false}]}
JSON
  chmod 600 "$dir/response.json"
}

# gl_env ID CMD...: runs CMD with the environment GitLab Runner gives its custom executor for
# job ID: the job's variables as CUSTOM_ENV_*, JOB_RESPONSE_FILE,
# the exit codes, BUILD_EXIT_CODE_FILE and TMPDIR. Extra variables: GL_EXTRA_ENV (array).
gl_env() {
  local id=$1; shift
  gl_env_words "$id"
  "${GLENV[@]}" "$@"
}
gl_env_words() {  # ID: sets GLENV to the env(1) command line of gl_env
  local id=$1
  GLENV=(env -i PATH="$PATH" JOBCELL_GITLAB_STATE_DIR="$JOBCELL_GITLAB_STATE_DIR"
    TMPDIR="$GL/runner/$id" JOB_RESPONSE_FILE="$GL/runner/$id/response.json"
    BUILD_FAILURE_EXIT_CODE=$BUILD_FAILURE SYSTEM_FAILURE_EXIT_CODE=$SYSTEM_FAILURE
    BUILD_EXIT_CODE_FILE="$GL/runner/$id/exit_code"
    CUSTOM_ENV_CI=true CUSTOM_ENV_GITLAB_CI=true CUSTOM_ENV_CI_JOB_ID="$id"
    CUSTOM_ENV_CI_PROJECT_ID=4711 "${GL_EXTRA_ENV[@]}")
}
GL_EXTRA_ENV=()

# script ID STAGE BODY: the runner's script for one stage: bash, `set -eo pipefail`, the job's
# variables exported, then the stage's body through eval, as GitLab Runner's bash shell writes
# it; mode 0700 in the runner's root-only temp dir. Prints its path.
script() {
  local id=$1 stage=$2 body=$3 path=$GL/runner/$1/script-$2
  {
    printf '#!/usr/bin/env bash\n\nset -eo pipefail\nset +o noclobber\n'
    printf ': | eval %q\n' "$(printf 'export CI="true"\nexport CI_JOB_ID="%s"\nexport CI_JOB_TOKEN="glcbt-64_canary"\nexport CI_PROJECT_DIR="/builds/acme/widget"\nexport CI_BUILDS_DIR="/builds"\nexport CI_SERVER_URL="https://gitlab.example.test"\nmkdir -p "$CI_PROJECT_DIR" && cd "$CI_PROJECT_DIR"\n%s\n' "$id" "$body")"
    printf 'exit 0\n'
  } >"$path"
  chmod 700 "$path"
  echo "$path"
}

# gl ID SUBCOMMAND [ARGS...]: jobcell gitlab SUBCOMMAND for job ID; stdout in $OUT, stderr in
# $ERR, status in $RC.
gl() {
  local id=$1; shift
  OUT=$GL/runner/$id/out ERR=$GL/runner/$id/err
  [ "$1" = prepare ] && GL_JOBS+=("$id")
  gl_env "$id" "$JOBCELL" gitlab "$@" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
}
# stage ID STAGE BODY: runs one stage of job ID.
stage() { gl "$1" run "$(script "$1" "$2" "$3")" "$2"; }

expect_rc() { [ "$RC" -eq "$1" ] || fail "${2:-exit status} $RC, expected $1 (stderr: $(head -c 400 "$ERR"))"; }
expect_out() { grep -Eq -- "$1" "$OUT" || fail "stdout lacks /$1/: $(head -c 400 "$OUT")"; }
expect_err() { grep -Eq -- "$1" "$ERR" || fail "stderr lacks /$1/: $(head -c 400 "$ERR")"; }
expect_no_out() { ! grep -Eq -- "$1" "$OUT" || fail "stdout has /$1/"; }

# Nothing of job ID left: no state, no jobcell of its, and (leaks.sh) no cell process, mount,
# cgroup or network anywhere.
expect_clean() {
  local id
  for id in "$@"; do
    [ ! -e "$GL/state/jobs/$id" ] || fail "job $id: state left: $(ls -A "$GL/state/jobs/$id" | tr '\n' ' ')"
  done
  local i
  for i in $(seq 1 50); do  # a killed cell's last processes take a moment to be reaped
    pgrep -f "gitlab run $GL/" >/dev/null || break
    sleep 0.1
  done
  ! pgrep -f "gitlab run $GL/" >/dev/null || fail "a jobcell gitlab run is still alive: $(pgrep -af "gitlab run $GL/")"
  local leaks=""
  for i in $(seq 1 50); do
    leaks=$("$IT_DIR/leaks.sh"); [ -z "$leaks" ] && break
    sleep 0.1
  done
  [ -z "$leaks" ] || fail "$leaks"
}

# The stages of a whole job, in the runner's order, each checked to succeed.
STAGES_RUNNER_BEFORE=(prepare_script get_sources restore_cache download_artifacts)
STAGES_RUNNER_AFTER=(archive_cache upload_artifacts_on_success cleanup_file_variables)

# wait_for CONDITION-COMMAND...: polls for up to 10 s.
wait_for() {
  local i
  for i in $(seq 1 100); do "$@" && return 0; sleep 0.1; done
  return 1
}
