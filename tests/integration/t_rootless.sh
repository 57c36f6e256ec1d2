# shellcheck shell=bash disable=SC2119,SC2030,SC2031,SC2034  # world_up takes no arguments; OUT/ERR/RC per subshell, RC read by lib.sh
# Rootless mode: jobcell started by an unprivileged user (here `nobody`, through setpriv). The
# cell is that user's: one id (the job user, mapped to the user), no cgroup, loopback only with
# --net none, and with --net allowlist/open a slirp4netns uplink under the same in-cell ruleset.
# The network tests run in the private world of networld.sh, never on the machine's uplink.
#
# This machine's /dev/net/tun is 0600 (no udev), where stock Debian's is 0666. Tests that need a
# usable one make their own node in a scratch directory and bind it over /dev/net/tun inside a
# private mount namespace that only jobcell's process tree sees; the machine is never changed.

# shellcheck source=networld.sh
source "$IT_DIR/networld.sh"

ROOTLESS_UID=65534
NOLIMITS=(--memory 0 --cpus 0)

# A workspace the unprivileged user owns, with the probe in it, and a wrapper that runs jobcell
# as that user in a mount namespace of its own where /dev/net/tun is $TUN_NODE (when set).
rootless_begin() {
  needs setpriv unshare
  RWS=$WS/ws
  mkdir -p "$RWS"
  cp "$PROBE" "$RWS/probe"
  chown -R "$ROOTLESS_UID:$ROOTLESS_UID" "$RWS"
  REAL_JOBCELL=$JOBCELL
  RL_WRAPPER=$WS/rootless-jobcell
  cat >"$RL_WRAPPER" <<EOF
#!/bin/sh
if [ -n "\${TUN_NODE:-}" ]; then
  exec unshare -m --propagation private -- sh -c 'mount --bind "\$TUN_NODE" /dev/net/tun && exec setpriv --reuid $ROOTLESS_UID --regid $ROOTLESS_UID --clear-groups "\$@"' sh "$REAL_JOBCELL" "\$@"
fi
exec setpriv --reuid $ROOTLESS_UID --regid $ROOTLESS_UID --clear-groups "$REAL_JOBCELL" "\$@"
EOF
  chmod 755 "$RL_WRAPPER"
}
# A tun node jobcell's user may open (c 10 200, 0666), in the test's scratch directory.
usable_tun() {
  TUN_NODE=$WS/tun
  mknod -m 0666 "$TUN_NODE" c 10 200 || skip "cannot mknod a tun node in $WS"
  export TUN_NODE
}
# rjc RUN-ARGS...: `jobcell run --workspace $RWS RUN-ARGS` as the unprivileged user; like jc.
rjc() {
  (cd "$RWS" && "$RL_WRAPPER" run --workspace "$RWS" "$@" >"$OUT" 2>"$ERR" </dev/null)
  RC=$?
  return 0
}
# The same on the world's runner host.
rwjc() {
  local saved=$JOBCELL
  JOBCELL=$RL_WRAPPER
  world_jobcell run --workspace "$RWS" "$@"
  JOBCELL=$saved
}
slirps() {  # live (not zombie) slirp4netns processes of the unprivileged user
  ps -u "$ROOTLESS_UID" -o pid=,stat=,comm= | awk '$3 == "slirp4netns" && $2 !~ /^Z/ {print; n++} END {exit !n}'
}
no_slirp_left() {
  local n
  for ((n = 0; n < 30; n++)); do
    slirps >/dev/null || return 0
    sleep 0.1
  done
  fail "slirp4netns still running: $(slirps | tr '\n' ' ')"
}
rootless_end() {
  no_slirp_left
  world_no_other_leaks
}

test_rootless_cell_is_the_users_and_holds_nothing() {
  rootless_begin
  # shellcheck disable=SC2016  # expanded in the cell
  rjc --tier untrusted "${NOLIMITS[@]}" -- /bin/sh -c '
    id -u; id -g; cat /proc/self/uid_map; grep ^CapEff /proc/self/status; grep ^CapBnd /proc/self/status
    echo written >out.txt
    ./probe mount setuid0 unshare-user
    touch /dev/x 2>&1; touch /x 2>&1
    exit 7'
  expect_rc 7 "the job's own exit status"
  expect_out '^1000$'
  expect_out "^ +1000 +$ROOTLESS_UID +1$"
  expect_out '^CapEff:[[:space:]]+0+$'
  expect_out '^CapBnd:[[:space:]]+0+$'
  expect_probe mount EPERM
  # no uid 0 exists in a rootless cell at all
  expect_probe setuid0 EINVAL
  expect_probe unshare-user EPERM
  expect_out "/dev/x.*Read-only file system"
  expect_out "/x.*Read-only file system"
  expect_eq "$(stat -c %u:%g "$RWS/out.txt")" "$ROOTLESS_UID:$ROOTLESS_UID" "owner of a file the job wrote"
  expect_eq "$(cat "$RWS/out.txt")" written "the file the job wrote"
  rjc --tier untrusted "${NOLIMITS[@]}" -- /bin/sh -c 'kill -TERM $$'
  expect_rc $((128 + 15)) "a job killed by SIGTERM"
  rootless_end
}

test_rootless_net_none_is_loopback_only() {
  rootless_begin
  rjc --tier untrusted "${NOLIMITS[@]}" --net none -- /bin/sh -c \
    'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " "; echo; exec ./probe connect 203.0.113.10 80 connect 2001:db8::10 80 connect 169.254.169.254 80'
  expect_rc 0
  expect_out '^lo $'
  expect_probe "connect 203.0.113.10:80" ENETUNREACH
  expect_probe "connect \[2001:db8::10\]:80" ENETUNREACH
  expect_probe "connect 169.254.169.254:80" ENETUNREACH
  rootless_end
}

test_rootless_refuses_limits_it_cannot_enforce() {
  rootless_begin
  # the shipped tiers limit memory and cpu, which needs a cgroup: refused, never dropped
  rjc --tier untrusted -- /bin/sh -c "touch $RWS/ran"
  expect_rc 125
  [ "$(wc -l <"$ERR")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$ERR")"
  expect_err "^jobcell: rootless: tier untrusted's memory and cpu limits need a cgroup, which jobcell can only create as root; run jobcell as root, or pass --memory 0 --cpus 0 to run without them$"
  rjc --tier untrusted --memory 0 -- /bin/sh -c "touch $RWS/ran"
  expect_rc 125
  expect_err "cpu limit needs a cgroup.*--cpus 0"
  [ ! -e "$RWS/ran" ] || fail "the job ran"
  rootless_end
}

test_rootless_process_limit_holds() {
  rootless_begin
  # forks until refused (at most 30): with --pids 10 the cell holds 10 processes, as a pids
  # cgroup would count them: init, python and 8 children, then EAGAIN
  rjc --tier untrusted "${NOLIMITS[@]}" --pids 10 -- python3 -c '
import errno, os, time
kids, err = [], None
for _ in range(30):
    try:
        pid = os.fork()
    except OSError as e:
        err = errno.errorcode[e.errno]
        break
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    kids.append(pid)
print("forked", len(kids), "then", err)
for k in kids:
    os.kill(k, 9)
    os.waitpid(k, 0)
'
  expect_rc 0
  local forked
  forked=$(sed -n 's/^forked \([0-9]*\) then EAGAIN$/\1/p' "$OUT")
  [ "$forked" = 8 ] || fail "under --pids 10: $(cat "$OUT" "$ERR" | head -c 300), expected 8 forks then EAGAIN"
  rootless_end
}

test_rootless_allowlist_through_slirp4netns_in_the_private_world() {
  needs slirp4netns
  world_up
  rootless_begin
  usable_tun
  rwjc --tier untrusted "${NOLIMITS[@]}" --net allowlist --allow allowed.example:80 -- ./probe \
    resolve allowed.example http allowed.example 80 connect allowed.example 8080 connect 203.0.113.20 80 \
    connect 169.254.169.254 80 connect 192.0.2.2 8000 connect 10.99.0.1 8000 connect 10.0.2.2 8001 \
    dns-udp 127.0.0.53 "rl-$$.other.example" dns-udp 198.51.100.53 "rl-direct-$$.example" connect 2001:db8::10 80
  expect_rc 0
  expect_probe "resolve allowed.example" 203.0.113.10
  expect_probe "http allowed.example:80" server=allowed.example:80
  expect_probe "connect allowed.example:8080" EHOSTUNREACH
  expect_probe "connect 203.0.113.20:80" EHOSTUNREACH
  expect_probe "connect 169.254.169.254:80" EHOSTUNREACH
  expect_probe "connect 192.0.2.2:8000" EHOSTUNREACH
  expect_probe "connect 10.99.0.1:8000" EHOSTUNREACH
  # slirp4netns's gateway (the user's host side) is the host too
  expect_probe "connect 10.0.2.2:8001" EHOSTUNREACH
  expect_probe "dns-udp 127.0.0.53 rl-$$.other.example" REFUSED
  expect_probe "dns-udp 198.51.100.53 rl-direct-$$.example" EPERM
  # a rootless cell has no IPv6 uplink: no route at all
  expect_probe "connect \[2001:db8::10\]:80" ENETUNREACH
  world_dns_asked allowed.example || fail "the forwarder did not ask the world's resolver"
  expect_not_asked "rl-$$.other.example"
  expect_not_asked "rl-direct-$$.example"
  expect_err '^jobcell: egress denied: [0-9]+ packets'
  rootless_end
}

test_rootless_open_reaches_the_internet_but_not_the_always_denied() {
  needs slirp4netns
  world_up
  rootless_begin
  usable_tun
  rwjc --tier untrusted "${NOLIMITS[@]}" --net open -- ./probe \
    http 203.0.113.20 80 http other.example 80 connect 169.254.169.254 80 connect 10.99.0.1 8000
  expect_rc 0
  expect_probe "http 203.0.113.20:80" server=other.example:80
  expect_probe "http other.example:80" server=other.example:80
  expect_probe "connect 169.254.169.254:80" EHOSTUNREACH
  expect_probe "connect 10.99.0.1:8000" EHOSTUNREACH
  rootless_end
}

test_rootless_sigkill_of_jobcell_takes_the_cell_and_slirp4netns() {
  needs slirp4netns
  world_up
  rootless_begin
  usable_tun
  (WJC_PIDFILE=$WS/wrapper.pid OUT=$WS/bg.out ERR=$WS/bg.err
    rwjc --tier untrusted "${NOLIMITS[@]}" --net open -- /bin/sh -c "touch $RWS/started; exec sleep 60.$$") &
  local bg=$! n pid
  for ((n = 0; n < 150; n++)); do [ -e "$RWS/started" ] && break; sleep 0.1; done
  [ -e "$RWS/started" ] || fail "the cell did not start: $(head -c 300 "$WS/bg.err")"
  slirps >/dev/null || fail "no slirp4netns while the cell runs"
  pid=$(pgrep -u "$ROOTLESS_UID" -x jobcell | head -1)
  [ -n "$pid" ] || fail "no rootless jobcell process to kill"
  kill -9 "$pid"
  wait "$bg"
  for ((n = 0; n < 30; n++)); do pgrep -f "sleep 60.$$" >/dev/null || break; sleep 0.1; done
  ! pgrep -f "sleep 60.$$" >/dev/null || fail "the job outlived its SIGKILLed jobcell"
  rootless_end
}

test_rootless_network_without_slirp4netns_is_refused_clearly() {
  rootless_begin
  # an absolute PATH without slirp4netns on it
  (cd "$RWS" && setpriv --reuid $ROOTLESS_UID --regid $ROOTLESS_UID --clear-groups env PATH=/nonexistent \
    "$JOBCELL" run --workspace "$RWS" --tier untrusted "${NOLIMITS[@]}" \
    --net allowlist --allow allowed.example -- /bin/sh -c "touch $RWS/ran" >"$OUT" 2>"$ERR" </dev/null)
  RC=$?
  expect_refusal '^jobcell: rootless: --net allowlist needs a user-mode uplink and slirp4netns is not installed \(apt-get install slirp4netns\), or use --net none$' "$RWS/ran"
  rootless_end
}

test_rootless_network_without_tun_access_is_refused_clearly() {
  needs slirp4netns
  rootless_begin
  TUN_NODE=$WS/tun-root-only
  mknod -m 0600 "$TUN_NODE" c 10 200 || skip "cannot mknod a tun node in $WS"
  export TUN_NODE
  rjc --tier untrusted "${NOLIMITS[@]}" --net open -- /bin/sh -c "touch $RWS/ran"
  expect_refusal '^jobcell: rootless: --net open needs /dev/net/tun for slirp4netns \(open /dev/net/tun\): EACCES' "$RWS/ran"
  rootless_end
}
