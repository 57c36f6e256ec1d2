# shellcheck shell=bash
# A private network "world" for the network tests (sourced after lib.sh). Nothing in it touches
# the machine's real uplink: it is two network namespaces joined by a veth pair, on
# documentation addresses, and every test command enters one of them explicitly.
#
#   jcw-host-$$  the runner host, where jobcell runs (wjc)
#       lo up; wan0 192.0.2.2/24, 2001:db8:1::2/64; default routes via the internet ns;
#       ip_forward and IPv6 forwarding on (in this netns only); its "LAN" address 10.99.0.1 on lo;
#       HTTP servers on 10.99.0.1:8000 ("lan"), 192.0.2.2:8000 ("runner-host") and on every
#       address of it, port 8001 ("runner-any": what a cell would reach through its gateway);
#       /etc/netns/jcw-host-$$/resolv.conf: nameserver 198.51.100.53
#   jcw-inet-$$  the internet
#       rtr0 192.0.2.1/24, 2001:db8:1::1/64; lo holding the servers' addresses (host routes,
#       so the world needs no dummy module, which not every kernel has):
#       HTTP 203.0.113.10:80 and :8080 (allowed.example), 203.0.113.20:80 (other.example),
#       [2001:db8::10]:80 (v6.example), [2001:db8::20]:80 (v6other.example),
#       169.254.169.254:80 (a fake cloud metadata server);
#       DNS 198.51.100.53:53 (UDP, TCP), which logs every question (networld_servers.py)
#   Every HTTP server answers "server=NAME" with NAME as in world_up below.
#
# world_up            builds the world (skips when the machine cannot), cleans up on exit
# world_down          removes it (idempotent; also runs on EXIT, INT and TERM)
# world_sh NS CMD...  runs CMD in the world namespace NS (host, inet, or a full name)
# wjc ARGS...         `jobcell run --workspace $WS ARGS` on the runner host, like jc
# world_jobcell ARGS  `jobcell ARGS` on the runner host (stdout $OUT, stderr $ERR, status RC)
# wprobe [RUN OPTS] -- PROBE ARGS   the probe in an untrusted cell on the runner host
# world_dns_asked NAME   whether the world's DNS server was asked NAME or a name below it
# world_leftovers     prints jcell* links and jobcell_cell* nft tables on the runner host
#
# jobcell is never started with `ip netns exec`: that remounts /sys, which hides
# /sys/fs/cgroup. wjc enters only the world's netns, with its resolv.conf bound over
# /etc/resolv.conf in a private mount namespace (nothing changes on the machine).

WORLD_DNS=198.51.100.53

world_up() {
  [ -n "${WORLD_DIR:-}" ] && return 0
  [ "$(id -u)" = 0 ] || skip "the network world needs root"
  needs ip nft python3 unshare nsenter mount
  world_gc_stale
  WORLD_HOST=jcw-host-$$ WORLD_INET=jcw-inet-$$
  WORLD_DIR=$(mktemp -d "/tmp/jcw-$$.XXXXXX") || fail "mktemp"
  WORLD_DNS_LOG=$WORLD_DIR/dns.log WORLD_PIDS=()
  # Clean up however the test ends; the EXIT trap lib.sh set runs after ours, with the status.
  _world_save_exit_trap
  trap _world_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local h=$WORLD_HOST i=$WORLD_INET
  _world_do ip netns add "$h"
  _world_do ip netns add "$i"
  _world_do mkdir -p "/etc/netns/$h"
  echo "nameserver $WORLD_DNS" >"/etc/netns/$h/resolv.conf" || fail "world: cannot write /etc/netns/$h/resolv.conf"
  _world_do world_sh inet sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
  # the cable between the runner host and the internet, created straight into both namespaces
  _world_do ip link add name wan0 netns "$h" type veth peer name rtr0 netns "$i"

  # the internet
  _world_do ip -n "$i" link set lo up
  _world_do ip -n "$i" addr add 192.0.2.1/24 dev rtr0
  _world_do ip -n "$i" -6 addr add 2001:db8:1::1/64 dev rtr0 nodad
  local a
  for a in 203.0.113.10 203.0.113.20 "$WORLD_DNS" 169.254.169.254; do
    _world_do ip -n "$i" addr add "$a/32" dev lo
  done
  for a in 2001:db8::10 2001:db8::20; do _world_do ip -n "$i" -6 addr add "$a/128" dev lo nodad; done
  _world_do ip -n "$i" link set rtr0 up

  # the runner host and its LAN (default sysctls otherwise, as on a real runner)
  _world_do ip -n "$h" link set lo up
  _world_do world_sh host sysctl -qw net.ipv6.conf.wan0.accept_dad=0 net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  _world_do ip -n "$h" addr add 192.0.2.2/24 dev wan0
  _world_do ip -n "$h" -6 addr add 2001:db8:1::2/64 dev wan0 nodad
  _world_do ip -n "$h" link set wan0 up
  _world_do ip -n "$h" route add default via 192.0.2.1 dev wan0
  _world_do ip -n "$h" -6 route add default via 2001:db8:1::1 dev wan0
  _world_do ip -n "$h" addr add 10.99.0.1/32 dev lo

  _world_start inet --dns "$WORLD_DNS:53" --dns-log "$WORLD_DNS_LOG" \
    --http allowed.example:80=203.0.113.10:80 --http allowed.example:8080=203.0.113.10:8080 \
    --http other.example:80=203.0.113.20:80 --http 'v6.example:80=[2001:db8::10]:80' \
    --http 'v6other.example:80=[2001:db8::20]:80' --http metadata:80=169.254.169.254:80
  _world_start host --http lan:8000=10.99.0.1:8000 --http runner-host:8000=192.0.2.2:8000 \
    --http runner-any:8001=0.0.0.0:8001
  _world_wait_ready inet
  _world_wait_ready host
}

# Runs one setup step; a failure fails the test (and the EXIT trap removes what exists).
_world_do() {
  local msg
  msg=$("$@" 2>&1) || fail "world: '$*' failed: $msg"
}

_world_start() {  # host|inet SERVER-ARGS...
  local where=$1 ns
  shift
  ns=$(_world_ns "$where")
  ip netns exec "$ns" python3 "$IT_DIR/networld_servers.py" --ready "$WORLD_DIR/$where.ready" "$@" \
    >"$WORLD_DIR/$where.log" 2>&1 </dev/null &
  WORLD_PIDS+=("$!")
  echo "$!" >>"$WORLD_DIR/pids"
}

_world_wait_ready() {  # host|inet: up to 10 s for every listener of that server process
  local n
  for ((n = 0; n < 100; n++)); do
    [ -s "$WORLD_DIR/$1.ready" ] && return 0
    sleep 0.1
  done
  fail "world: the $1 servers did not start: $(tail -3 "$WORLD_DIR/$1.log" | tr '\n' ' ')"
}

_world_ns() {
  case $1 in
    host) echo "$WORLD_HOST" ;;
    inet) echo "$WORLD_INET" ;;
    *) echo "$1" ;;
  esac
}

# shellcheck disable=SC2120  # takes no arguments; "set --" parses the trap's text
_world_save_exit_trap() {
  eval "set -- $(trap -p EXIT)"
  _world_prev_exit=${3:-}
}

_world_on_exit() {
  local rc=$?
  world_down
  (exit $rc)
  eval "${_world_prev_exit:-}"
}

# Removes the world: servers first (a netns lives on while a process is in it), then anything
# else still inside it, the namespaces (their veths and nft tables go with them), the files.
world_down() {
  [ -n "${WORLD_DIR:-}" ] || return 0
  local pid ns n
  for pid in "${WORLD_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${WORLD_PIDS[@]}"; do
    for ((n = 0; n < 50; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  for ns in "$WORLD_HOST" "$WORLD_INET"; do
    _world_remove_ns "$ns"
  done
  rm -rf "$WORLD_DIR"
  WORLD_DIR=
}

_world_remove_ns() {  # NS: kills what our test left running in it, deletes it and its /etc/netns
  local ns=$1 pids n sig
  if [ -e "/run/netns/$ns" ]; then
    for ((n = 0; n < 30; n++)); do
      mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
      [ ${#pids[@]} -eq 0 ] && break
      sig=TERM
      [ "$n" -ge 20 ] && sig=KILL
      kill -s "$sig" "${pids[@]}" 2>/dev/null
      sleep 0.1
    done
    ip netns del "$ns" 2>/dev/null
  fi
  rm -rf "/etc/netns/$ns"
}

# Worlds of tests that are gone (their shell, whose pid names the world, no longer runs).
world_gc_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns =~ ^jcw-(host|inet)-([0-9]+)$ ]] || continue
    pid=${BASH_REMATCH[2]}
    kill -0 "$pid" 2>/dev/null && continue
    _world_remove_ns "$ns"
  done
  for ns in /etc/netns/jcw-*; do
    [ -e "$ns" ] || continue
    [[ $ns =~ -([0-9]+)$ ]] && ! kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && rm -rf "$ns"
  done
  for ns in /tmp/jcw-*.*; do
    [ -e "$ns" ] || continue
    [[ $ns =~ /jcw-([0-9]+)\. ]] && ! kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && rm -rf "$ns"
  done
  return 0
}

world_sh() {  # host|inet|NAME CMD...
  local ns
  ns=$(_world_ns "$1")
  shift
  ip netns exec "$ns" "$@"
}

# `jobcell ARGS` on the runner host, as `ip netns exec` would run it but without remounting
# /sys: a private mount namespace with the world's resolv.conf, then only the netns entered.
# WJC_PIDFILE, if set, receives the pid of jobcell itself (every step execs).
world_jobcell() {
  [ -n "${WORLD_DIR:-}" ] || fail "world_jobcell before world_up"
  # shellcheck disable=SC2016  # expanded by that sh
  unshare -m --propagation private -- sh -c '
    echo $$ >"$1"
    mount --bind "/etc/netns/$2/resolv.conf" /etc/resolv.conf || exit 125
    ns=$2
    shift 2
    exec nsenter --net="/run/netns/$ns" -- "$@"' \
    sh "${WJC_PIDFILE:-/dev/null}" "$WORLD_HOST" "$JOBCELL" "$@" >"$OUT" 2>"$ERR" </dev/null
  # shellcheck disable=SC2034  # read by the tests, as jc's
  RC=$?
  return 0
}
wjc() { world_jobcell run --workspace "$WS" "$@"; }

# wprobe [jobcell run options] -- PROBE ARGS: the probe in an untrusted cell on the runner host.
wprobe() {
  local opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] || fail "wprobe: no -- before the probe's arguments"
  shift
  cp "$PROBE" "$WS/probe"
  wjc --tier untrusted "${opts[@]}" -- "$WS/probe" "$@"
}

world_dns_asked() {  # NAME: asked NAME itself, or any name below it (case-insensitive)?
  awk -F'\t' -v n="$1" '
    BEGIN { n = tolower(n); sub(/\.$/, "", n) }
    { q = tolower($1); sub(/\.$/, "", q)
      if (q == n || (length(q) > length(n) && substr(q, length(q) - length(n)) == "." n)) found = 1 }
    END { exit !found }' "$WORLD_DNS_LOG"
}

world_leftovers() {  # jobcell's host side of cells, still on the runner host
  ip -n "$WORLD_HOST" -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' |
    grep '^jcell' | sed 's/^/leftover link: /'
  world_sh host nft list tables 2>/dev/null | grep 'jobcell_cell' | sed 's/^/leftover nft: /'
  return 0
}

# probe output "<what>: <result>" must be one of the results (a regex, matched whole)
expect_probe_re() {
  local line
  line=$(grep -m1 -F "$1: " "$OUT") || fail "$1: no output; stdout: $(head -c 300 "$OUT")"
  [[ ${line#"$1: "} =~ ^($2)$ ]] || fail "$line, expected /$2/"
}
expect_not_asked() {
  ! world_dns_asked "$1" || fail "the world's DNS server was asked for $1: $(grep -i "$1" "$WORLD_DNS_LOG" | head -3 | tr '\n' ' ')"
}

# No leak on the machine but our own world, which world_down removes when the test ends; a
# cell's init whose launcher was killed is a zombie until the machine's pid 1 reaps it (up to 3 s).
world_no_other_leaks() {
  local l n
  for ((n = 0; n < 30; n++)); do
    l=$("$IT_DIR/leaks.sh" | grep -v -e "jcw-host-$$" -e "jcw-inet-$$" -e "/tmp/jcw-$$\.")
    [ -z "$l" ] && break
    sleep 0.1
  done
  [ -z "$l" ] || fail "$l"
}
