#!/usr/bin/env bash
# The demo as a test: examples/job.sh builds and tests examples/widget inside an untrusted cell,
# then attacks; the test passes when the build and its tests passed and every attack was blocked
# for the right reason (the errno the cell must produce, not merely "it failed").
#
#   tests/integration/example_job.sh PATH-TO-jobcell
#
# Prints "PASS example-job" or "FAIL example-job: <why>" (then the job's output on stderr).
# Needs root for the /root marker; without it the host-root check is weaker but still runs.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 PATH-TO-jobcell" >&2
    exit 2
fi
jobcell=$(realpath -- "$1")
[ -x "$jobcell" ] || { echo "FAIL example-job: no jobcell binary at $1"; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/example-env.sh
. "$repo/scripts/lib/example-env.sh"

# attack -> what its "blocked (...)" reason must contain. An empty entry: any reason will do.
declare -A want=(
    [job-token]="empty"
    [shadow]="No such file"
    [host-root]=""
    [host-loopback]="Connection refused"
    [metadata]="Network is unreachable"
    [mount]="Operation not permitted"
    [host-processes]=""
)

example_env_setup "$repo"
log=$EXAMPLE_STATE/job.log
status=0
example_env_run "$jobcell" "$log" quiet || status=$?

fail() {
    echo "FAIL example-job: $*"
    sed 's/^/  job| /' "$log" >&2
    exit 1
}

[ "$status" -eq 0 ] || fail "jobcell exited $status, want 0 (job.sh exits 0 when build and tests pass)"
r=$(example_env_result "$log" "BUILD: ") || fail "no BUILD: line"
[ "$r" = passed ] || fail "BUILD: $r"
r=$(example_env_result "$log" "TESTS: ") || fail "no TESTS: line"
[ "$r" = passed ] || fail "TESTS: $r"
grep -q '^[0-9][0-9]* passed, 0 failed$' "$log" || fail "the widget test runner did not print 'N passed, 0 failed'"

for name in "${EXAMPLE_ATTACKS[@]}"; do
    r=$(example_env_result "$log" "ATTACK $name: ") || fail "no 'ATTACK $name:' line"
    case $r in
        "blocked ("*")") ;;
        *) fail "attack $name: $r" ;;
    esac
    if [ -n "${want[$name]}" ] && [[ $r != *"${want[$name]}"* ]]; then
        fail "attack $name: $r; want a reason containing '${want[$name]}'"
    fi
done
# Any attack line, including ones added to job.sh later, that is not "blocked" fails the test.
if other=$(grep '^ATTACK ' "$log" | grep -v '^ATTACK [a-z/-]*: blocked (' | head -n1) && [ -n "$other" ]; then
    fail "$other"
fi
# The bait must have been there for the attacks to mean something.
[ -n "$EXAMPLE_MARKER_TEXT" ] || echo "note: $EXAMPLE_MARKER was not planted (not root)" >&2

echo "PASS example-job"
