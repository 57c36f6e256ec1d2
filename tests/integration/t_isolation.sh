# What the job sees of the host: its own user, environment, /etc, /proc, /dev and network.

test_identity() {
  jsh 'id -u; id -g; id -G; hostname; pwd; echo "$HOME"; cat /proc/self/uid_map'
  expect_rc 0
  mapfile -t l <"$OUT"
  expect_eq "${l[0]}" 1000 uid
  expect_eq "${l[1]}" 1000 gid
  expect_eq "${l[2]}" 1000 "supplementary groups"
  expect_eq "${l[3]}" jobcell hostname
  expect_eq "${l[4]}" "$WS" "starting directory"
  expect_eq "${l[5]}" /home/job HOME
  # nothing inside is host root: the cell's 0 is an unprivileged host id
  read -r inside outside count <<<"${l[6]}"
  [ "$inside" = 0 ] && [ "$outside" -ge 65536 ] && [ "$count" = 65536 ] || fail "uid_map '${l[6]}'"
}

test_environment_is_only_what_the_tier_allows() {
  CI_JOB_TOKEN=canary-a AWS_SECRET_ACCESS_KEY=canary-b SSH_AUTH_SOCK=/tmp/agent \
    jc --tier untrusted -- /usr/bin/env
  expect_rc 0
  names=$(cut -d= -f1 "$OUT" | sort | tr '\n' ' ')
  expect_eq "$names" "CI HOME JOBCELL_TIER LANG LOGNAME PATH SHELL TMPDIR USER " "environment names"
  CI_JOB_TOKEN=canary-a jc --tier untrusted -- /bin/sh -c 'cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline | tr "\0" "\n"'
  expect_no_out canary-a
}

test_env_flag_passes_values() {
  DEMO_VALUE=from-host jc --tier untrusted --env DEMO_VALUE --env EXTRA=x=y -- /bin/sh -c 'echo "$DEMO_VALUE $EXTRA"'
  expect_rc 0
  expect_out '^from-host x=y$'
}

test_etc_is_generated_not_the_hosts() {
  jsh 'cat /etc/shadow; ls /etc/ssh; ls /etc/ssl/private; cat /etc/passwd; ls /etc'
  expect_err 'shadow: No such file'
  expect_err 'ssh.*No such file'
  expect_err 'private.*No such file'
  expect_out '^job:x:1000:1000:'
  # host accounts do not leak in
  expect_no_out '^(daemon|sys|sync|_apt):'
  if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    jsh 'head -c 27 /etc/ssl/certs/ca-certificates.crt'
    expect_out 'BEGIN CERTIFICATE'
  fi
}

test_host_directories_are_absent() {
  mkdir -p /root/.jobcell-it-marker-dir
  it_extra_cleanup='rmdir /root/.jobcell-it-marker-dir'
  jsh 'for d in /root/.jobcell-it-marker-dir /var/lib /run /work /opt /srv /mnt /sys/fs/cgroup; do [ -e "$d" ] && echo "visible: $d"; done; true'
  expect_rc 0
  expect_no_out visible
}

test_system_is_read_only() {
  jsh 'touch /usr/bin/jobcell-x; touch /etc/jobcell-x; mkdir /jobcell-x; touch /bin/jobcell-x'
  [ "$(grep -c 'Read-only file system' "$ERR")" -eq 4 ] || fail "expected 4 EROFS: $(cat "$ERR")"
}

test_proc_is_the_cells_own() {
  jsh 'ls -d /proc/[0-9]* | wc -l; tr "\0" " " </proc/1/cmdline; echo; echo x >/proc/sys/kernel/hostname'
  mapfile -t l <"$OUT"
  [ "${l[0]}" -le 4 ] || fail "${l[0]} processes visible"
  [[ ${l[1]} == "jobcell-init /bin/sh -c"* ]] || fail "pid 1 is '${l[1]}'"
  expect_err 'hostname: Read-only file system'
  # what leaks kernel memory or addresses reads as empty (checked where the host kernel has it)
  local f
  for f in kcore keys timer_list kallsyms sched_debug; do
    [ -e "/proc/$f" ] || continue
    jsh "wc -c </proc/$f"
    expect_eq "$(cat "$OUT")" 0 "bytes readable from /proc/$f"
  done
  if [ -e /proc/sysrq-trigger ]; then
    jsh 'echo h >/proc/sysrq-trigger'
    expect_err 'sysrq-trigger: (Read-only file system|Permission denied)'
  fi
}

test_dev_is_minimal() {
  jsh 'ls -A /dev | tr "\n" " "'
  expect_rc 0
  expect_eq "$(cat "$OUT")" "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero " "/dev"
  jsh 'echo x >/dev/null && head -c 4 /dev/urandom | wc -c && echo y >/dev/shm/f && cat /dev/shm/f'
  expect_rc 0
}

test_scratch_tmpfs_sizes() {
  jc --tier untrusted --tmpfs-size 32M -- /bin/sh -c 'df -B1 --output=size /tmp "$HOME" | tail -2; stat -c "%a %U" "$HOME"; stat -c %a /tmp'
  expect_rc 0
  mapfile -t l <"$OUT"
  expect_eq "$(echo ${l[0]})" 33554432 "/tmp size"
  expect_eq "$(echo ${l[1]})" 33554432 "\$HOME size"
  expect_eq "${l[2]}" "700 job" "\$HOME mode and owner"
  expect_eq "${l[3]}" 1777 "/tmp mode"
}

test_network_is_loopback_only() {
  needs python3
  jc --tier untrusted -- /usr/bin/python3 -c '
import socket, errno
print(sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]))
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname(), timeout=2); print("loopback ok")
for ip in ("192.0.2.1", "169.254.169.254", "2001:db8::1"):
    u = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.connect((ip, 53)); print(ip, "ROUTED")
    except OSError as e:
        print(ip, errno.errorcode[e.errno])
'
  expect_rc 0
  expect_out "^\['lo'\]$"
  expect_out '^loopback ok$'
  expect_out '^192.0.2.1 ENETUNREACH$'
  expect_out '^169.254.169.254 ENETUNREACH$'
  expect_out '^2001:db8::1 ENETUNREACH$'
}

test_no_capabilities_no_new_privileges() {
  jsh 'grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t " " "'
  expect_rc 0
  for f in CapInh CapPrm CapEff CapBnd CapAmb; do expect_out "^$f: 0000000000000000$"; done
  expect_out '^NoNewPrivs: 1$'
  expect_out '^Seccomp: 2$'
  # pid 1 (the init) holds nothing either
  jsh 'grep -E "^CapEff" /proc/1/status'
  expect_out '0000000000000000'
}
