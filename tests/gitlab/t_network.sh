# shellcheck shell=bash disable=SC2119  # world_up takes no arguments
# The stages' networks with real traffic, in the private world of tests/integration/networld.sh
# (a "runner host" netns where jobcell runs, an "internet" netns with HTTP servers on
# documentation addresses); nothing leaves the machine. The job's GitLab server is the world's
# allowed.example: runner stages reach it and nothing else, an untrusted job's user stages reach
# nothing at all.

# shellcheck source=../integration/networld.sh
source "$IT_DIR/networld.sh"

# wgl ID SUBCOMMAND [ARGS...]: gl, with jobcell on the world's runner host.
wgl() {
  local id=$1 real=$JOBCELL
  shift
  OUT=$GL/runner/$id/out ERR=$GL/runner/$id/err
  [ "$1" = prepare ] && GL_JOBS+=("$id")
  gl_env_words "$id"
  JOBCELL=${GLENV[0]}  # env(1) with the runner's environment, then jobcell
  world_jobcell "${GLENV[@]:1}" "$real" gitlab "$@"
  JOBCELL=$real
}
wstage() { wgl "$1" run "$(script "$1" "$2" "$3")" "$2"; }

HTTP_GET='printf "GET / HTTP/1.0\r\n\r\n" >&3; cat <&3'

test_runner_stages_reach_the_gitlab_server_and_nothing_else() {
  world_up
  GL_REPO_URL="http://gitlab-ci-token:glcbt-64_canary@allowed.example/acme/widget.git" response 201 fork-mr
  wgl 201 prepare; expect_rc 0
  expect_out 'runner stages: network allowlist \(allowed.example:80\); user stages: network none'
  wstage 201 get_sources "exec 3<>/dev/tcp/allowed.example/80; $HTTP_GET; echo
    (exec 4<>/dev/tcp/203.0.113.20/80) || echo 'other host: denied'
    (exec 4<>/dev/tcp/203.0.113.10/8080) || echo 'other port: denied'
    (exec 4<>/dev/tcp/169.254.169.254/80) || echo 'metadata: denied'"
  expect_rc 0 "get_sources"
  expect_out 'server=allowed.example:80'
  expect_out '^other host: denied$'
  expect_out '^other port: denied$'
  expect_out '^metadata: denied$'
  expect_err '203.0.113.20/80: No route to host'
  # the fork's own code: no network at all
  wstage 201 build_script "(exec 3<>/dev/tcp/203.0.113.10/80) || echo 'user stage: denied'"
  expect_rc 0 "build_script"
  expect_out '^user stage: denied$'
  expect_err 'Network is unreachable'
  wgl 201 cleanup; expect_rc 0
  [ ! -e "$GL/state/jobs/201" ] || fail "job 201: state left"
  local l
  l=$(world_leftovers)
  [ -z "$l" ] || fail "left on the runner host: $l"
  world_no_other_leaks
}
