#!/usr/bin/env bash
# A CI job as a malicious merge request would write it: it builds and tests the project like an
# honest job (phase 1), then tries to steal or escape (phase 2). Run it in a jobcell cell:
#
#   jobcell run --tier untrusted --workspace WS -- bash WS/job.sh
#
# Phase 1 prints "BUILD: passed|failed" and "TESTS: passed|failed". Phase 2 prints one line per
# attack, "ATTACK <name>: blocked (<why>)" or "ATTACK <name>: SUCCEEDED (<what leaked>)", where
# <why> is the error the attempt actually got. The exit status is 0 when build and tests passed;
# attack results do not change it (the caller judges them). Every attempt is bounded in time and
# writes only below this script's directory, so it stays harmless even if the sandbox is broken.
#
# Environment: DEMO_PORT, the host loopback port to try (default 18099).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
widget=$here/widget

# ---------------------------------------------------------------------------------------------
# Phase 1: the honest part of the job.
echo "== build: make -C widget"
if make -C "$widget"; then build=passed; else build=failed; fi
echo "BUILD: $build"
echo "== test: make -C widget test"
if make -C "$widget" test; then tests=passed; else tests=failed; fi
echo "TESTS: $tests"

# ---------------------------------------------------------------------------------------------
# Phase 2: what a poisoned pipeline would try.
echo "== attacks"

blocked() { echo "ATTACK $1: blocked ($2)"; }
succeeded() { echo "ATTACK $1: SUCCEEDED ($2)"; }

# The errno text of a failed attempt: the first non-empty line of its stderr without the
# "prog: path: " prefixes ("cat: /etc/shadow: No such file or directory" -> "No such file or
# directory").
reason() {
    local line
    line=$(printf '%s\n' "$1" | grep -m1 -v '^[[:space:]]*$')
    line=${line##*: }
    echo "${line:-no error text}"
}

# Shows a secret's shape, not the secret: the job log may be public.
mask() { printf '%s...(%d chars)' "${1:0:4}" "${#1}"; }

py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)

# The job token: an untrusted tier passes no secrets, so it must be neither in our environment
# nor in the environment of any process we can see (bubblewrap's --clearenv once left secrets in
# pid 1's environ).
attack_job_token() {
    local where=() f nprocs readable=0
    [ -n "${CI_JOB_TOKEN:-}" ] && where+=("\$CI_JOB_TOKEN")
    nprocs=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)
    for f in /proc/[0-9]*/environ; do
        [ -r "$f" ] || continue
        # A process may exit between the glob and the read; that is not an error.
        head -c 1 "$f" >/dev/null 2>&1 && readable=$((readable + 1))
        if grep -qsaz '^CI_JOB_TOKEN=.' "$f"; then where+=("$f"); fi
    done
    if [ ${#where[@]} -gt 0 ]; then
        local value=${CI_JOB_TOKEN:-}
        if [ -z "$value" ]; then
            value=$(grep -asz '^CI_JOB_TOKEN=.' "${where[0]}" | tr -d '\0' | head -n1)
            value=${value#CI_JOB_TOKEN=}
        fi
        local places
        places=$(printf '%s, ' "${where[@]}")
        succeeded job-token "CI_JOB_TOKEN=$(mask "$value") in ${places%, }"
    else
        blocked job-token "CI_JOB_TOKEN empty: unset in the job env and absent from $readable readable /proc/*/environ of $nprocs processes"
    fi
}

# The host's password hashes.
attack_shadow() {
    local out users
    if out=$(head -c 65536 /etc/shadow 2>&1); then
        users=$(printf '%s\n' "$out" | cut -d: -f1 | head -n3 | paste -sd, -)
        succeeded shadow "read /etc/shadow: $(printf '%s\n' "$out" | grep -c .) entries, users $users,..."
    else
        blocked shadow "/etc/shadow: $(reason "$out")"
    fi
}

# The host's /root, where the caller planted a marker file (runner configs, ssh keys and cloud
# credentials live in such places).
attack_host_root() {
    local marker=/root/.jobcell-demo-marker out seen
    if [ -d /root ]; then
        seen="/root exists, $(find /root -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) entries listable"
    else
        seen="/root absent"
    fi
    if out=$(head -c 256 "$marker" 2>&1); then
        succeeded host-root "read $marker: $(printf '%s\n' "$out" | head -n1); $seen"
    else
        blocked host-root "$marker: $(reason "$out"); $seen"
    fi
}

# A service on the host's loopback (a database, the Docker API, a runner's local cache). The cell
# has its own network namespace, whose 127.0.0.1 has nothing listening: "Connection refused".
attack_host_loopback() {
    local port=${DEMO_PORT:-18099} out status
    # shellcheck disable=SC2016  # $1 and $banner belong to the inner bash
    out=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        IFS= read -r -t 1 banner <&3; printf "%s\n" "${banner:-no banner}"' _ "$port" 2>&1)
    status=$?
    if [ $status -eq 0 ]; then
        succeeded host-loopback "connected to 127.0.0.1:$port, it said: $(printf '%s\n' "$out" | head -n1)"
    elif [ $status -eq 124 ]; then
        blocked host-loopback "127.0.0.1:$port: no connection within 2 s"
    else
        blocked host-loopback "127.0.0.1:$port: $(reason "$out")"
    fi
}

# The cloud metadata endpoint (instance credentials). Only a TCP connect: nothing is sent.
attack_metadata() {
    local out status
    out=$(timeout 3 bash -c 'exec 3<>/dev/tcp/169.254.169.254/80' 2>&1)
    status=$?
    if [ $status -eq 0 ]; then
        succeeded metadata "TCP connection to 169.254.169.254:80 established"
    elif [ $status -eq 124 ]; then
        blocked metadata "169.254.169.254:80: no connection within 3 s"
    else
        blocked metadata "169.254.169.254:80: $(reason "$out")"
    fi
}

# Mounting is the first step of most escapes. mount(8) refuses non-root users by itself ("must
# be superuser"), so the kernel is asked directly too: its errno is the real answer.
attack_mount() {
    local scratch=$here/.attack-scratch/mnt out status m8 m2=""
    mkdir -p "$scratch"
    out=$(timeout 5 mount -t tmpfs jobcell-demo "$scratch" 2>&1)
    status=$?
    if [ $status -eq 0 ]; then
        timeout 5 umount "$scratch" 2>/dev/null
        succeeded mount "mount -t tmpfs on $scratch worked"
        rmdir "$scratch" "$here/.attack-scratch" 2>/dev/null
        return
    fi
    m8=$(reason "$out")
    if [ -n "$py" ]; then
        m2=$(timeout 5 "$py" -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
if libc.mount(b"jobcell-demo", sys.argv[1].encode(), b"tmpfs", 0, None) == 0:
    print("mounted")
else:
    print(os.strerror(ctypes.get_errno()))' "$scratch" 2>&1 | tail -n1)
    fi
    if [ "$m2" = mounted ]; then
        timeout 5 umount "$scratch" 2>/dev/null
        succeeded mount "mount(2) of tmpfs on $scratch worked (mount(8) said: $m8)"
    elif [ -n "$m2" ]; then
        blocked mount "mount(2): $m2; mount(8): $m8"
    else
        blocked mount "mount(8): $m8"
    fi
    rmdir "$scratch" "$here/.attack-scratch" 2>/dev/null
}

# Host processes: the caller runs its loopback listener with this tag in its command line. The
# bracket keeps grep's own command line from matching.
attack_host_processes() {
    local hits nprocs
    nprocs=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)
    hits=$(grep -lsa 'jobcell-demo-listene[r]' /proc/[0-9]*/cmdline 2>/dev/null | head -n3 | paste -sd, -)
    if [ -n "$hits" ]; then
        succeeded host-processes "saw the host's listener in $hits; $nprocs processes visible"
    else
        blocked host-processes "no host process visible: $nprocs processes in /proc"
    fi
}

attack_job_token
attack_shadow
attack_host_root
attack_host_loopback
attack_metadata
attack_mount
attack_host_processes

[ "$build" = passed ] && [ "$tests" = passed ]
