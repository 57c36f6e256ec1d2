# shellcheck shell=bash
# The host side of examples/job.sh, shared by scripts/demo and tests/integration/example_job.sh:
# a throwaway workspace holding a copy of examples/, the bait a malicious job would go for (a
# marker file in the host's /root, a listener on the host's loopback, CI_JOB_TOKEN in jobcell's
# environment), one launch of the job in an untrusted cell, and cleanup on every exit path.
#
#   example_env_setup REPO_ROOT       set up, and install the cleanup traps
#   example_env_run JOBCELL LOG show|quiet
#                                     run job.sh in a cell; output to LOG (and, with show, to
#                                     the terminal as it comes); returns jobcell's exit status
#   example_env_result LOG PREFIX     the text after PREFIX on the one line starting with it
#   example_env_cleanup               idempotent; the EXIT trap calls it
#
# Sourced, not run. Works under `set -euo pipefail`.

# The attacks job.sh prints, in order. host-processes is the optional one.
# shellcheck disable=SC2034  # read by the scripts that source this file
EXAMPLE_ATTACKS=(job-token shadow host-root host-loopback metadata mount host-processes)
# job.sh hard-codes this name; only the content is per run.
EXAMPLE_MARKER=/root/.jobcell-demo-marker
EXAMPLE_TOKEN=demo-secret-token

EXAMPLE_WS=""          # the workspace: a copy of examples/, bound rw into the cell
EXAMPLE_STATE=""       # host-only scratch (listener port file), never visible to the job
EXAMPLE_PORT=""        # the host loopback port the listener got
EXAMPLE_LISTENER=""    # its pid
EXAMPLE_JOB=""         # the pid of jobcell while it runs
EXAMPLE_MARKER_TEXT="" # what we wrote into the marker; empty when we did not plant it

example_env_cleanup() {
    local i
    # Interrupted while the job runs: jobcell forwards SIGTERM to the cell and kills it after its
    # grace time; wait for that (bounded), so nothing of the job outlives the workspace.
    if [ -n "$EXAMPLE_JOB" ]; then
        kill -TERM "$EXAMPLE_JOB" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            kill -0 "$EXAMPLE_JOB" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$EXAMPLE_JOB" 2>/dev/null || true
        wait "$EXAMPLE_JOB" 2>/dev/null || true
        EXAMPLE_JOB=""
    fi
    if [ -n "$EXAMPLE_LISTENER" ]; then
        kill "$EXAMPLE_LISTENER" 2>/dev/null || true
        wait "$EXAMPLE_LISTENER" 2>/dev/null || true
        EXAMPLE_LISTENER=""
    fi
    # Remove the marker only if it is still ours: a concurrent run may have planted its own.
    if [ -n "$EXAMPLE_MARKER_TEXT" ]; then
        if [ "$(cat "$EXAMPLE_MARKER" 2>/dev/null)" = "$EXAMPLE_MARKER_TEXT" ]; then
            rm -f "$EXAMPLE_MARKER" || true
        fi
        EXAMPLE_MARKER_TEXT=""
    fi
    if [ -n "$EXAMPLE_WS" ]; then
        rm -rf "$EXAMPLE_WS" 2>/dev/null ||
            echo "example-env: could not remove $EXAMPLE_WS (files owned by the cell's uid?)" >&2
        EXAMPLE_WS=""
    fi
    if [ -n "$EXAMPLE_STATE" ]; then
        rm -rf "$EXAMPLE_STATE" || true
        EXAMPLE_STATE=""
    fi
}

example_env_setup() {
    local repo=$1 i
    # Traps first, so a failure half-way through still cleans up. INT/TERM/HUP become exits so
    # that the EXIT trap runs.
    trap example_env_cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM

    EXAMPLE_STATE=$(mktemp -d /tmp/jobcell-demo-state.XXXXXX)

    # The workspace: root-owned and 0755, like a runner's build directory. jobcell mounts it
    # idmapped, so the job (uid 1000 inside) owns it in the cell, and what it writes is root's
    # on the host: nothing needs to be made world-writable.
    EXAMPLE_WS=$(mktemp -d /tmp/jobcell-demo.XXXXXX)
    chmod 755 "$EXAMPLE_WS"
    cp -R "$repo/examples/." "$EXAMPLE_WS/"
    rm -rf "$EXAMPLE_WS/widget/build" "$EXAMPLE_WS/.attack-scratch"

    # Bait 1: a marker in the host's /root. Only root can plant it; without it the host-root
    # attack still shows whether /root is visible at all.
    if [ -w /root ]; then
        local text="jobcell-demo-marker $$-$RANDOM$RANDOM"
        if (set -C && printf '%s\n' "$text" >"$EXAMPLE_MARKER") 2>/dev/null; then
            chmod 644 "$EXAMPLE_MARKER"
            EXAMPLE_MARKER_TEXT=$text
        else
            echo "example-env: $EXAMPLE_MARKER already exists (another run?); left as it is" >&2
        fi
    else
        echo "example-env: not root, $EXAMPLE_MARKER not planted" >&2
    fi

    # Bait 2: a listener on the host's loopback. It prefers 18099 (or $DEMO_PORT) and takes any
    # free port when that one is busy; "jobcell-demo-listener" in its command line is what the
    # host-processes attack looks for.
    python3 -c '
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[2])))
except OSError:
    s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[3] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"jobcell-demo-listener: you reached the host loopback\n")
    except OSError:
        pass
    c.close()
' jobcell-demo-listener "${DEMO_PORT:-18099}" "$EXAMPLE_STATE/port" </dev/null >/dev/null 2>&1 &
    EXAMPLE_LISTENER=$!
    for ((i = 0; i < 50; i++)); do
        [ -s "$EXAMPLE_STATE/port" ] && break
        kill -0 "$EXAMPLE_LISTENER" 2>/dev/null || break
        sleep 0.1
    done
    EXAMPLE_PORT=$(cat "$EXAMPLE_STATE/port" 2>/dev/null || true)
    if [ -z "$EXAMPLE_PORT" ]; then
        echo "example-env: the loopback listener did not start" >&2
        return 1
    fi
    # The bait must work from the host, or "Connection refused" in the cell proves nothing.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$EXAMPLE_PORT") 2>/dev/null; then
        echo "example-env: the listener on 127.0.0.1:$EXAMPLE_PORT is not reachable from the host" >&2
        return 1
    fi

    # Bait 3: a secret in the launcher's environment, as a runner would have it.
    export CI_JOB_TOKEN=$EXAMPLE_TOKEN
}

example_env_run() {
    local jobcell=$1 log=$2 mode=$3 status=0 tail_pid=""
    # In the background, so that a signal to this script is handled at once (the trap ends the
    # cell through jobcell) rather than after the job finishes.
    "$jobcell" run --tier untrusted --workspace "$EXAMPLE_WS" --env "DEMO_PORT=$EXAMPLE_PORT" \
        --timeout 5m -- bash "$EXAMPLE_WS/job.sh" </dev/null >"$log" 2>&1 &
    EXAMPLE_JOB=$!
    if [ "$mode" = show ]; then
        tail -n +1 -s 0.2 --pid="$EXAMPLE_JOB" -f "$log" &
        tail_pid=$!
    fi
    wait "$EXAMPLE_JOB" || status=$?
    EXAMPLE_JOB=""
    # tail reads what is left once jobcell is gone, then ends.
    [ -z "$tail_pid" ] || wait "$tail_pid" || true
    return "$status"
}

# Prints the rest of the line that starts with PREFIX ("BUILD: ", "ATTACK mount: "); prints
# nothing and fails when there is no such line, and prints "duplicate" when there are several.
example_env_result() {
    local log=$1 prefix=$2 lines
    lines=$(awk -v p="$prefix" 'index($0, p) == 1 { print substr($0, length(p) + 1) }' "$log")
    [ -n "$lines" ] || return 1
    if [ "$(printf '%s\n' "$lines" | wc -l)" -ne 1 ]; then
        echo duplicate
        return 0
    fi
    printf '%s\n' "$lines"
}
