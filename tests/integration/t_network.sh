# shellcheck shell=bash disable=SC2119  # world_up takes no arguments
# Egress: what a cell can reach in each network mode, and why not. Every test builds its own
# private world (networld.sh: a "runner host" netns where jobcell runs, an "internet" netns with
# HTTP servers, a fake metadata server and a logging DNS server); nothing here touches the
# machine's real uplink. Results are asserted in the attacker's language (probe.c): the exact
# errno a denied connect gets, the DNS rcode a refused name gets.

# shellcheck source=networld.sh
source "$IT_DIR/networld.sh"

ALLOWED=(--net allowlist --allow allowed.example:80)

# Every test ends with this: nothing of jobcell's host side is left on the runner host (a
# veth that the kernel is still tearing down gets 3 s), and no other leak on the machine.
net_end() {
  local l n
  for ((n = 0; n < 30; n++)); do
    l=$(world_leftovers)
    [ -z "$l" ] && break
    sleep 0.1
  done
  [ -z "$l" ] || fail "left on the runner host: ${l//$'\n'/; }"
  world_no_other_leaks
}

# The world itself, without jobcell: from the runner host everything the later tests deny is
# reachable, so each of them can fail if the cell lets the traffic through.
test_world_sanity() {
  world_up
  world_sh host "$PROBE" \
    resolve allowed.example resolve alias.example resolve v6.example resolve meta.example \
    resolve lan.example resolve nothing.example \
    http allowed.example 80 http allowed.example 8080 http other.example 80 http alias.example 80 \
    http 169.254.169.254 80 http meta.example 80 http v6.example 80 http 2001:db8::20 80 \
    http 10.99.0.1 8000 http lan.example 8000 http 192.0.2.2 8000 http 127.0.0.1 8001 \
    connect 203.0.113.10 81 connect 203.0.113.20 80 \
    dns-udp 198.51.100.53 allowed.example dns-udp 198.51.100.53 v6.example \
    dns-udp 198.51.100.53 nothing.example >"$OUT" 2>"$ERR"
  RC=$?
  cat "$OUT"
  expect_rc 0
  expect_probe "resolve allowed.example" 203.0.113.10
  expect_probe "resolve alias.example" 203.0.113.10
  expect_probe "resolve v6.example" 2001:db8::10
  expect_probe "resolve meta.example" 169.254.169.254
  expect_probe "resolve lan.example" 10.99.0.1
  expect_probe "resolve nothing.example" EAI_NONAME
  expect_probe "http allowed.example:80" server=allowed.example:80
  expect_probe "http allowed.example:8080" server=allowed.example:8080
  expect_probe "http other.example:80" server=other.example:80
  expect_probe "http alias.example:80" server=allowed.example:80
  expect_probe "http 169.254.169.254:80" server=metadata:80
  expect_probe "http meta.example:80" server=metadata:80
  expect_probe "http v6.example:80" server=v6.example:80
  expect_probe "http \[2001:db8::20\]:80" server=v6other.example:80
  expect_probe "http 10.99.0.1:8000" server=lan:8000
  expect_probe "http lan.example:8000" server=lan:8000
  expect_probe "http 192.0.2.2:8000" server=runner-host:8000
  expect_probe "http 127.0.0.1:8001" server=runner-any:8001
  expect_probe "connect 203.0.113.10:81" ECONNREFUSED
  expect_probe "connect 203.0.113.20:80" ok
  expect_probe "dns-udp 198.51.100.53 allowed.example" answer
  expect_probe "dns-udp 198.51.100.53 v6.example" NODATA
  expect_probe "dns-udp 198.51.100.53 nothing.example" NXDOMAIN
  # a second client, not ours: Python's resolver and HTTP, and DNS over TCP
  world_sh host python3 -c '
import socket, struct, urllib.request
for url in ("http://allowed.example/", "http://169.254.169.254/", "http://10.99.0.1:8000/", "http://[2001:db8::20]/"):
    print(url, urllib.request.urlopen(url, timeout=5).read().decode().strip())
q = struct.pack("!HHHHHH", 7, 0x100, 1, 0, 0, 0) + b"\x05other\x07example\x00" + struct.pack("!HH", 1, 1)
s = socket.create_connection(("198.51.100.53", 53), timeout=5)
s.sendall(struct.pack("!H", len(q)) + q)
a = s.recv(4096)[2:]
print("tcp-dns other.example", socket.inet_ntoa(a[-4:]) if a[3] & 15 == 0 else "rcode %d" % (a[3] & 15))
' >"$OUT" 2>"$ERR"
  RC=$?
  cat "$OUT"
  expect_rc 0
  expect_out '^http://allowed.example/ server=allowed.example:80$'
  expect_out '^http://169.254.169.254/ server=metadata:80$'
  expect_out '^http://10.99.0.1:8000/ server=lan:8000$'
  expect_out '^http://\[2001:db8::20\]/ server=v6other.example:80$'
  expect_out '^tcp-dns other.example 203.0.113.20$'
  # the DNS log has what was asked, and only that
  world_dns_asked allowed.example || fail "allowed.example is not in the DNS log"
  world_dns_asked nothing.example || fail "nothing.example is not in the DNS log"
  grep -q $'^other.example\tA\ttcp\t192.0.2.2$' "$WORLD_DNS_LOG" || fail "the TCP question is not logged"
  expect_not_asked never-asked.example
  # the world is separate from the machine: its namespaces forward, the root netns is untouched
  expect_eq "$(world_sh host sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding | tr '\n' ' ')" "1 1 " "runner host forwarding"
  [ -z "$(ip link show wan0 2>/dev/null)$(ip link show rtr0 2>/dev/null)" ] || fail "a world link is in the root netns"
  expect_eq "$(world_sh host cat /proc/net/route | awk '$2 == "00000000" {print $1}')" wan0 "runner host default route"
  # wjc runs jobcell on the runner host with the world's resolver
  world_jobcell version
  expect_rc 0
  net_end
}

test_allowlisted_name_is_reachable() {
  world_up
  wprobe "${ALLOWED[@]}" -- resolve allowed.example http allowed.example 80
  expect_rc 0
  expect_probe "resolve allowed.example" 203.0.113.10
  expect_probe "http allowed.example:80" server=allowed.example:80
  world_dns_asked allowed.example || fail "the forwarder did not ask the world's resolver"
  net_end
}

test_another_port_of_the_allowed_host_is_denied() {
  world_up
  wprobe "${ALLOWED[@]}" -- connect allowed.example 80 connect allowed.example 8080 \
    connect 203.0.113.10 8080 http allowed.example 8080
  expect_rc 0
  expect_probe "connect allowed.example:80" ok
  expect_probe "connect allowed.example:8080" EHOSTUNREACH
  expect_probe "connect 203.0.113.10:8080" EHOSTUNREACH
  expect_probe "http allowed.example:8080" EHOSTUNREACH
  net_end
}

test_unlisted_name_is_refused_and_never_forwarded() {
  world_up
  wprobe "${ALLOWED[@]}" -- dns-udp 127.0.0.53 other.example dns-udp 127.0.0.53 "exfil-$$.other.example" \
    resolve other.example connect other.example 80 resolve allowed.example.other.example
  expect_rc 0
  expect_probe "dns-udp 127.0.0.53 other.example" REFUSED
  expect_probe "dns-udp 127.0.0.53 exfil-$$.other.example" REFUSED
  expect_probe_re "resolve other.example" 'EAI_[A-Z]+'
  expect_probe_re "connect other.example:80" 'resolve: EAI_[A-Z]+'
  expect_probe_re "resolve allowed.example.other.example" 'EAI_[A-Z]+'
  expect_not_asked other.example
  net_end
}

test_ip_literal_of_an_unlisted_host_is_denied() {
  world_up
  wprobe "${ALLOWED[@]}" -- connect 203.0.113.20 80 http 203.0.113.20 80 connect 203.0.113.20 443
  expect_rc 0
  expect_probe "connect 203.0.113.20:80" EHOSTUNREACH
  expect_probe "http 203.0.113.20:80" EHOSTUNREACH
  expect_probe "connect 203.0.113.20:443" EHOSTUNREACH
  net_end
}

test_metadata_is_never_reachable() {
  world_up
  wprobe "${ALLOWED[@]}" -- connect 169.254.169.254 80 http 169.254.169.254 80 dns-udp 169.254.169.254 x.example
  expect_rc 0
  expect_probe "connect 169.254.169.254:80" EHOSTUNREACH
  expect_probe "http 169.254.169.254:80" EHOSTUNREACH
  expect_probe "dns-udp 169.254.169.254 x.example" EPERM
  # allowing it explicitly changes nothing: the always-deny list comes first
  local entry
  for entry in 169.254.169.254 169.254.169.254:80 169.254.0.0/16; do
    wprobe --net allowlist --allow "$entry" -- connect 169.254.169.254 80
    expect_rc 0 "with --allow $entry: exit status"
    expect_probe "connect 169.254.169.254:80" EHOSTUNREACH
  done
  # an allowlisted name that resolves to the metadata address does not reach it either
  wprobe --net allowlist --allow meta.example:80 -- resolve meta.example http meta.example 80
  expect_rc 0
  expect_probe_re "resolve meta.example" 'EAI_(NONAME|NODATA)'
  expect_probe_re "http meta.example:80" 'resolve: EAI_(NONAME|NODATA)'
  net_end
}

test_cname_of_an_allowlisted_name_is_followed() {
  world_up
  wprobe --net allowlist --allow alias.example:80 -- resolve alias.example http alias.example 80 \
    dns-udp 127.0.0.53 allowed.example
  expect_rc 0
  expect_probe "resolve alias.example" 203.0.113.10
  expect_probe "http alias.example:80" server=allowed.example:80
  # the CNAME's target answers through the alias only; asked by its own name it is not listed
  expect_probe "dns-udp 127.0.0.53 allowed.example" REFUSED
  expect_not_asked allowed.example
  net_end
}

test_ipv6_is_filtered_like_ipv4() {
  world_up
  wprobe --net allowlist --allow '[2001:db8::10]:80' -- http 2001:db8::10 80 connect 2001:db8::20 80 \
    connect 2001:db8::10 8080
  expect_rc 0
  expect_probe "http \[2001:db8::10\]:80" server=v6.example:80
  expect_probe "connect \[2001:db8::20\]:80" EACCES
  expect_probe "connect \[2001:db8::10\]:8080" EACCES
  # by name: the AAAA answer opens that address only
  wprobe --net allowlist --allow v6.example:80 -- resolve v6.example http v6.example 80 \
    connect v6other.example 80 connect 2001:db8::20 80
  expect_rc 0
  expect_probe "resolve v6.example" 2001:db8::10
  expect_probe "http v6.example:80" server=v6.example:80
  expect_probe_re "connect v6other.example:80" 'resolve: EAI_[A-Z]+'
  expect_probe "connect \[2001:db8::20\]:80" EACCES
  expect_not_asked v6other.example
  net_end
}

test_dns_straight_to_an_outside_resolver_is_denied() {
  world_up
  wprobe "${ALLOWED[@]}" -- dns-udp 198.51.100.53 "direct-$$.example" dns-udp 198.51.100.53 allowed.example \
    connect 198.51.100.53 53
  expect_rc 0
  expect_probe "dns-udp 198.51.100.53 direct-$$.example" EPERM
  expect_probe "dns-udp 198.51.100.53 allowed.example" EPERM
  expect_probe "connect 198.51.100.53:53" EHOSTUNREACH
  expect_not_asked "direct-$$.example"
  expect_not_asked allowed.example
  net_end
}

test_runner_host_and_its_lan_are_denied() {
  world_up
  cp "$PROBE" "$WS/probe"
  # the cell's gateway is an address of the runner host too (port 8001 listens on all of them)
  # shellcheck disable=SC2016  # expanded in the cell
  wjc --tier untrusted --net allowlist --allow allowed.example:80 --allow lan.example:8000 -- /bin/sh -c '
    gw=$(awk '\''$2 == "00000000" { print $3 }'\'' /proc/net/route)
    gw=$(printf "%d.%d.%d.%d" 0x${gw#??????} 0x$(echo "$gw" | cut -c5-6) 0x$(echo "$gw" | cut -c3-4) 0x${gw%??????})
    echo "gateway: $gw"
    exec ./probe connect 192.0.2.2 8000 connect 10.99.0.1 8000 http 10.99.0.1 8000 \
      connect lan.example 8000 connect 10.99.0.2 8000 connect "$gw" 8001 connect 2001:db8:1::2 8000'
  expect_rc 0
  expect_out '^gateway: [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$'
  expect_probe "connect 192.0.2.2:8000" EHOSTUNREACH
  expect_probe "connect 10.99.0.1:8000" EHOSTUNREACH
  expect_probe "http 10.99.0.1:8000" EHOSTUNREACH
  # a listed name that resolves into the LAN gets no address at all: the forwarder withholds it
  expect_probe_re "connect lan.example:8000" 'resolve: EAI_(NONAME|NODATA)'
  expect_probe "connect 10.99.0.2:8000" EHOSTUNREACH
  expect_probe "connect $(sed -n 's/^gateway: //p' "$OUT"):8001" EHOSTUNREACH
  expect_probe "connect \[2001:db8:1::2\]:8000" EACCES
  net_end
}

test_net_none_is_loopback_only() {
  world_up
  wprobe --net none -- connect 203.0.113.10 80 connect 2001:db8::10 80 connect 169.254.169.254 80 \
    dns-udp 198.51.100.53 "none-$$.example" resolve allowed.example
  expect_rc 0
  expect_probe "connect 203.0.113.10:80" ENETUNREACH
  expect_probe "connect \[2001:db8::10\]:80" ENETUNREACH
  expect_probe "connect 169.254.169.254:80" ENETUNREACH
  expect_probe "dns-udp 198.51.100.53 none-$$.example" ENETUNREACH
  expect_probe_re "resolve allowed.example" 'EAI_[A-Z]+'
  expect_not_asked "none-$$.example"
  expect_not_asked allowed.example
  wjc --tier untrusted --net none -- /bin/sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " "'
  expect_rc 0
  expect_eq "$(cat "$OUT")" "lo " "interfaces in the cell"
  net_end
}

test_net_open_reaches_the_internet_but_not_the_always_denied() {
  world_up
  wprobe --net open -- http 203.0.113.20 80 http 2001:db8::20 80 connect 169.254.169.254 80 \
    connect 10.99.0.1 8000 connect 192.0.2.2 8000 connect 2001:db8:1::2 8000 http other.example 80
  expect_rc 0
  expect_probe "http 203.0.113.20:80" server=other.example:80
  expect_probe "http \[2001:db8::20\]:80" server=v6other.example:80
  expect_probe "connect 169.254.169.254:80" EHOSTUNREACH
  expect_probe "connect 10.99.0.1:8000" EHOSTUNREACH
  expect_probe "connect 192.0.2.2:8000" EHOSTUNREACH
  expect_probe "connect \[2001:db8:1::2\]:8000" EACCES
  expect_probe "http other.example:80" server=other.example:80
  net_end
}

test_sixteen_cells_at_once() {
  world_up
  cp "$PROBE" "$WS/probe"
  local i pids=()
  for ((i = 0; i < 16; i++)); do
    (
      OUT=$WS/out.$i ERR=$WS/err.$i
      wjc --tier untrusted "${ALLOWED[@]}" -- "$WS/probe" http allowed.example 80 connect 203.0.113.20 80
      echo "$RC" >"$WS/rc.$i"
    ) &
    pids+=("$!")
  done
  wait "${pids[@]}"
  for ((i = 0; i < 16; i++)); do
    OUT=$WS/out.$i ERR=$WS/err.$i RC=$(cat "$WS/rc.$i")
    expect_rc 0 "cell $i: exit status"
    expect_probe "http allowed.example:80" server=allowed.example:80
    expect_probe "connect 203.0.113.20:80" EHOSTUNREACH
  done
  net_end
}

test_audit_counts_denied_egress() {
  world_up
  wprobe "${ALLOWED[@]}" --audit "$WS/audit.json" -- http allowed.example 80 connect 203.0.113.20 80 \
    connect 169.254.169.254 80 connect 192.0.2.2 8000 connect 10.99.0.2 8000 resolve other.example
  expect_rc 0
  expect_probe "http allowed.example:80" server=allowed.example:80
  # what the job log says (docs/network.md)
  expect_err '^jobcell: egress denied: [0-9]+ packets \((denied_[a-z]+ [0-9]+(, )?)+\) to .*203\.0\.113\.20 tcp 80'
  expect_err '169\.254\.169\.254 tcp 80'
  expect_err '^jobcell: dns: refused other\.example \(A\): not on the allowlist$'
  expect_err '^jobcell: dns refused 2 questions for names off the allowlist: other\.example \(A\), other\.example \(AAAA\)$'
  [ -s "$WS/audit.json" ] || fail "no audit record"
  python3 - "$WS/audit.json" >"$OUT" 2>"$ERR" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
n = r.get("network")
if not isinstance(n, dict):
    sys.exit("no network object in the audit record: %s" % sorted(r))
d, dns = n.get("denied", {}), n.get("dns", {})
print("mode", n.get("mode"))
print("allow", " ".join(n.get("allow", [])))
for k in ("denied_never", "denied_host", "denied_private", "denied_unlisted"):
    print(k, d.get(k))
print("dns.forwarded", dns.get("forwarded"))
print("dns.refused", dns.get("refused"))
print("dns.refused_names", " ".join(dns.get("refused_names", [])))
EOF
  RC=$?
  cat "$OUT"
  expect_rc 0 "reading the audit record"
  expect_out '^mode allowlist$'
  expect_out '^allow (.* )?allowed.example:80( .*)?$'
  local k
  for k in denied_never denied_host denied_private denied_unlisted; do expect_out "^$k [1-9][0-9]*$"; done
  expect_out '^dns.forwarded [1-9][0-9]*$'
  expect_out '^dns.refused [1-9][0-9]*$'
  expect_out '^dns.refused_names (.* )?other.example( .*)?$'
  net_end
}

test_sigkilled_launcher_leaves_at_most_a_table_that_gc_removes() {
  world_up
  (WJC_PIDFILE=$WS/jobcell.pid OUT=$WS/bg.out ERR=$WS/bg.err
    wjc --tier untrusted "${ALLOWED[@]}" -- /bin/sh -c "touch $WS/started; exec sleep 60.$$") &
  local bg=$! n pid
  for ((n = 0; n < 150; n++)); do [ -e "$WS/started" ] && break; sleep 0.1; done
  [ -e "$WS/started" ] || fail "the cell did not start: $(head -c 300 "$WS/bg.err")"
  pid=$(cat "$WS/jobcell.pid")
  expect_eq "$(readlink "/proc/$pid/exe")" "$(realpath "$JOBCELL")" "the process to kill"
  world_leftovers | grep -q '^leftover link: jcell' || fail "no jcell veth on the runner host while the cell runs"
  kill -9 "$pid"
  wait "$bg"
  for ((n = 0; n < 50; n++)); do pgrep -f "sleep 60.$$" >/dev/null || break; sleep 0.1; done
  pgrep -f "sleep 60.$$" >/dev/null && fail "the job survived its launcher"
  # the veth goes with the cell's netns; at most the host's nft table may stay
  for ((n = 0; n < 30; n++)); do world_leftovers | grep -q 'link' || break; sleep 0.1; done
  local l
  l=$(world_leftovers | grep -v '^leftover nft: table inet jobcell_cell[0-9]*$')
  [ -z "$l" ] || fail "after SIGKILL: ${l//$'\n'/; }"
  world_jobcell gc
  expect_rc 0
  net_end
}

test_nothing_outside_can_connect_to_a_cell() {  # found by our attack run: a listener was reachable
  world_up
  # the internet learns a route to the cells' pool through the runner host, as a LAN host could
  world_sh inet ip route add 10.211.0.0/16 via 192.0.2.2 || fail "route to the pool"
  cat >"$WS/listen.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000))
s.listen(4)
s.settimeout(12)
print("listening", flush=True)
open(sys.argv[1], "w").write("up")
try:
    c, peer = s.accept()
    c.sendall(b"secret from the cell\n")
    print("accepted", peer, flush=True)
except socket.timeout:
    print("nobody connected", flush=True)
PY
  (OUT=$WS/cell.out ERR=$WS/cell.err
    wjc --tier untrusted "${ALLOWED[@]}" --audit "$WS/audit.json" -- /bin/sh -c \
      "ip -4 -o addr show eth0 | awk '{print \$4}' | cut -d/ -f1 >$WS/cell.addr; exec python3 $WS/listen.py $WS/up") &
  local bg=$! n addr
  for ((n = 0; n < 100; n++)); do [ -s "$WS/up" ] && break; sleep 0.1; done
  [ -s "$WS/up" ] || fail "the cell did not start listening: $(head -c 300 "$WS/cell.err")"
  addr=$(cat "$WS/cell.addr")
  [[ $addr == 10.211.* ]] || fail "cell address '$addr'"
  # from the internet (forwarded by the runner host: its table drops it) and from the runner
  # host itself (not forwarded: the cell's own input chain drops it, and counts it)
  local from
  for from in inet host; do
    world_sh "$from" python3 -c '
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], 9000), timeout=2)
    print("connected:", c.recv(100))
except OSError as e:
    print("connect failed:", type(e).__name__)
' "$addr" >"$OUT" 2>"$ERR"
    expect_out '^connect failed: (TimeoutError|timeout)$'
  done
  wait "$bg"
  grep -q '^nobody connected$' "$WS/cell.out" || fail "the cell's listener: $(cat "$WS/cell.out")"
  python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(r["network"]["denied"].get("denied_inbound", 0))' \
    "$WS/audit.json" >"$OUT" || fail "audit record"
  [ "$(cat "$OUT")" -ge 1 ] || fail "denied_inbound in the audit record: $(cat "$OUT")"
  net_end
}
