#!/usr/bin/env bash
# Prints what cells left on this machine (nothing when clean): cgroups, mounts, processes.
found=0
for d in /sys/fs/cgroup/*/jobcell-* /sys/fs/cgroup/jobcell-* /sys/fs/cgroup/unified/jobcell-*; do
  [ -e "$d" ] && { echo "leak: cgroup $d"; found=1; }
done
if grep -q jobcell /proc/self/mountinfo; then echo "leak: mounts: $(grep jobcell /proc/self/mountinfo | cut -d' ' -f5 | tr '\n' ' ')"; fi
if pgrep -x jobcell-init >/dev/null; then echo "leak: processes: $(pgrep -ax jobcell-init | tr '\n' ' ')"; fi
exit 0
