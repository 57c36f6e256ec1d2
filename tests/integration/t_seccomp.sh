# Dangerous syscalls fail inside a cell, for the right reason (EPERM, so build tools report a
# readable error), under every ABI.

test_escape_syscalls_get_eperm() {
  probe mount unshare-user unshare-net setns clone-newuser clone-newns pivot_root chroot bpf \
    perf_event_open userfaultfd keyctl add_key io_uring_setup open_by_handle_at kexec_load \
    init_module reboot swapon acct socket-packet socket-vsock socket-netlink-audit setuid0
  expect_rc 0
  for p in mount unshare-user unshare-net setns clone-newuser clone-newns pivot_root chroot bpf \
    perf_event_open userfaultfd keyctl add_key io_uring_setup open_by_handle_at kexec_load \
    init_module reboot swapon acct socket-packet socket-vsock socket-netlink-audit setuid0; do
    expect_probe "$p" EPERM
  done
}

test_clone3_is_enosys_so_libc_falls_back() {
  probe clone3 fork
  expect_probe clone3 ENOSYS
  expect_probe fork ok
}

test_what_builds_need_still_works() {
  probe socket-inet socket-netlink-route fork
  expect_probe socket-inet ok
  expect_probe socket-netlink-route ok
  expect_probe fork ok
}

test_foreign_abi_is_killed() {  # firejail #87, kafel #19
  [ "$(uname -m)" = x86_64 ] || skip "x32 probe is x86_64 only"
  probe x32-unshare
  expect_probe x32-unshare "killed by SIGSYS"
}

test_tiocsti_and_tioclinux_on_a_real_pty() {  # CVE-2017-5226, CVE-2019-10063 (64-bit request)
  needs script
  cp "$PROBE" "$WS/probe"
  script -qfec "$JOBCELL run --tier untrusted --workspace $WS -- $WS/probe tiocsti tiocsti64 tioclinux" /dev/null >"$OUT" 2>"$ERR" </dev/null
  sed -i 's/\r$//' "$OUT"
  expect_probe tiocsti EPERM
  expect_probe tiocsti64 EPERM
  expect_probe tioclinux EPERM
}

test_init_cannot_be_hijacked() {  # runc CVE-2019-5736 class
  probe write-proc1-exe ptrace-init
  grep -Eq '^write-proc1-exe: (EACCES|ETXTBSY|EPERM)$' "$OUT" || fail "$(grep write-proc1 "$OUT")"
  expect_probe ptrace-init EPERM
  # the init is no host file a job could reach: it runs from a sealed memfd
  "$JOBCELL" run --workspace "$WS" --tier untrusted -- sleep 2 >/dev/null 2>&1 &
  local pid=$! init="" i=0
  while [ -z "$init" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); init=$(pgrep -P "$pid" -x jobcell-init); done
  local exe; exe=$(readlink "/proc/$init/exe")
  wait $pid
  [[ $exe == /memfd:jobcell-init* ]] || fail "the cell's init runs from '$exe'"
}

test_setuid_files_cannot_be_planted_for_the_host() {
  jsh 'cp /bin/true ./t && chmod u+s ./t; chmod g+s ./t; ls -l ./t'
  expect_err 'Operation not permitted'
  [ -z "$(find "$WS" -perm /6000 -type f)" ] || fail "setuid/setgid file on the host: $(find "$WS" -perm /6000)"
}
