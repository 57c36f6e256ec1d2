# The workspace: read-write for the job, owned on the host by whoever owns the directory, and
# no way out through what a previous job left in it.

test_job_output_belongs_to_the_workspace_owner() {
  jsh 'mkdir -p out/deep && echo x >out/deep/file && stat -c "%U %a" out/deep/file . && touch /tmp/x'
  expect_rc 0
  expect_out '^job 644$'
  expect_out '^job 755$'
  expect_eq "$(stat -c %u:%g "$WS/out/deep/file")" "0:0" "host owner of a file the job wrote"
  rm -rf "$WS/out" || fail "the invoker cannot remove the job's files"
}

test_non_root_owner_gets_the_files() {
  chown 4242:4343 "$WS"
  jsh 'echo x >made-by-job'
  expect_rc 0
  expect_eq "$(stat -c %u:%g "$WS/made-by-job")" "4242:4343" "host owner"
}

test_symlinks_in_the_workspace_stay_inside() {  # runc CVE-2021-30465 class
  ln -s /etc "$WS/etc-link"; ln -s / "$WS/root-link"; ln -s /proc/1/root "$WS/proc-link"
  echo host-marker-it >/root/.jobcell-it-marker
  it_extra_cleanup='rm -f /root/.jobcell-it-marker'
  jsh 'cat etc-link/shadow root-link/root/.jobcell-it-marker proc-link/root/.jobcell-it-marker 2>&1; ls root-link/'
  expect_no_out host-marker-it
  expect_no_out '^(work|srv|opt)$'
}

test_workspace_path_through_a_symlink_is_refused() {  # a previous job's symlink must not pick the workspace
  mkdir -p "$WS/real/ws"; ln -s "$WS/real" "$WS/link"; ln -s /root "$WS/to-root"
  "$JOBCELL" run --workspace "$WS/link/ws" --tier untrusted -- touch ran >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 125
  expect_err "goes through a symlink \(it is really $WS/real/ws\)"
  "$JOBCELL" run --workspace "$WS/to-root" --tier untrusted -- touch ran >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 125
  [ ! -e /root/ran ] && [ ! -e "$WS/real/ws/ran" ] || fail "the job ran"
  "$JOBCELL" run --workspace "$WS/real/./ws/" --tier untrusted -- /bin/pwd >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 0
  expect_out "^$WS/real/ws\$"
}

test_workspace_under_tmp_and_home_paths() {
  jsh 'echo ok >"$PWD/f" && ls /tmp'
  expect_rc 0
  [ -f "$WS/f" ] || fail "file written under /tmp workspace missing on the host"
}
