# Cgroup limits: memory, processes, cpu; on the machine's cgroup version.

cell_cgroup_dir() {  # controller -> the running cell's cgroup dir on the host
  local d
  for d in /sys/fs/cgroup/$1/jobcell-* /sys/fs/cgroup/jobcell-*; do [ -d "$d" ] && { echo "$d"; return; }; done
}

test_memory_limit_kills_with_137_and_says_so() {
  jc --tier untrusted --memory 64M --timeout 60s -- /usr/bin/python3 -c 'x = [bytearray(10**7) for i in range(100)]; print("FAIL")'
  expect_rc 137
  expect_err 'out of memory \(limit 64 MiB\)'
  expect_no_out FAIL
}

test_pids_limit_stops_a_fork_flood() {
  jc --tier untrusted --pids 32 --timeout 60s -- /usr/bin/python3 -c '
import os, errno, time
kids = []
try:
    while len(kids) < 500:
        pid = os.fork()
        if pid == 0:
            time.sleep(30); os._exit(0)
        kids.append(pid)
    print("started", len(kids), "no error")
except OSError as e:
    print("started", len(kids), errno.errorcode[e.errno])
'
  read -r _ n why <"$OUT"
  [ -n "$n" ] && [ "$n" -lt 32 ] || fail "started '$n' processes under a limit of 32"
  expect_eq "$why" EAGAIN "why the next fork failed"
}

test_limits_land_in_the_kernel() {
  ( "$JOBCELL" run --workspace "$WS" --tier untrusted --memory 96M --pids 77 --cpus 0.5 -- sleep 3 >/dev/null 2>&1 ) &
  local pid=$! i=0 mem="" pids="" cpu="" d
  while [ $i -lt 50 ] && [ -z "$mem" ]; do
    sleep 0.1; i=$((i + 1))
    if d=$(cell_cgroup_dir memory) && [ -n "$d" ]; then  # v1: one directory per controller
      mem=$(cat "$d/memory.limit_in_bytes"); pids=$(cat "$(cell_cgroup_dir pids)/pids.max")
      cpu=$(cat "$(cell_cgroup_dir cpu)/cpu.cfs_quota_us")
    elif d=$(ls -d /sys/fs/cgroup/jobcell-* /sys/fs/cgroup/unified/jobcell-* 2>/dev/null | head -1) && [ -n "$d" ]; then
      mem=$(cat "$d/memory.max"); pids=$(cat "$d/pids.max"); cpu=$(cut -d' ' -f1 "$d/cpu.max")
    fi
  done
  wait $pid
  expect_eq "$mem" $((96 * 1024 * 1024)) "memory limit"
  expect_eq "$pids" 77 "pids limit"
  expect_eq "$cpu" 50000 "cpu quota (per 100000 us)"
  no_leaks
}

test_cpu_quota_is_enforced() {
  jc --tier untrusted --cpus 0.2 --audit "$WS/audit.json" -- /usr/bin/timeout 2 /bin/sh -c 'while :; do :; done'
  expect_rc 124 "timeout(1) status"
  usec=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["cpu_usec"])' "$WS/audit.json")
  # unlimited this would be about 2,000,000; a 0.2 cpu quota allows about 400,000
  [ "$usec" -gt 100000 ] && [ "$usec" -lt 900000 ] || fail "cpu used: $usec us in 2 s under a 0.2 cpu quota"
}

test_tmpfs_fills_with_enospc() {
  jc --tier untrusted --tmpfs-size 16M -- /bin/sh -c 'dd if=/dev/zero of=/tmp/f bs=1M count=64 2>&1; dd if=/dev/zero of="$HOME/f" bs=1M count=64 2>&1'
  [ "$(grep -c 'No space left on device' "$OUT")" -eq 2 ] || fail "$(cat "$OUT")"
}
