#!/usr/bin/env bash
# Prints what cells and network tests left on this machine (nothing when clean): cgroups,
# mounts, processes; network-test worlds (namespaces jcw-*, /etc/netns/jcw-*, their files in
# /tmp); jobcell's host side of a cell network (jcell* links, jobcell_cell* nft tables) in the
# root netns.
for d in /sys/fs/cgroup/*/jobcell-* /sys/fs/cgroup/jobcell-* /sys/fs/cgroup/unified/jobcell-*; do
  [ -e "$d" ] && echo "leak: cgroup $d"
done
if grep -q jobcell /proc/self/mountinfo; then echo "leak: mounts: $(grep jobcell /proc/self/mountinfo | cut -d' ' -f5 | tr '\n' ' ')"; fi
if pgrep -x jobcell-init >/dev/null; then echo "leak: processes: $(pgrep -ax jobcell-init | tr '\n' ' ')"; fi
if command -v ip >/dev/null; then
  worlds=$(ip netns list 2>/dev/null | awk '$1 ~ /^jcw-/ {print $1}' | tr '\n' ' ')
  [ -n "$worlds" ] && echo "leak: network namespaces: $worlds"
  links=$(ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep '^jcell' | tr '\n' ' ')
  [ -n "$links" ] && echo "leak: links in the root netns: $links"
fi
for d in /etc/netns/jcw-* /tmp/jcw-*.*; do
  [ -e "$d" ] && echo "leak: network test world file $d"
done
if command -v nft >/dev/null; then
  tables=$(nft list tables 2>/dev/null | awk '$3 ~ /^jobcell_cell/ {print $2 " " $3}' | tr '\n' ' ')
  [ -n "$tables" ] && echo "leak: nft tables in the root netns: $tables"
fi
exit 0
