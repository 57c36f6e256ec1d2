# The tier chosen from metadata reaches the cell: the job runs with the tier's environment and
# limits, the audit record says why, and spoofed variables never raise it.

gitlab_response() {  # protected(true|false) refspec -> path of a job response
  cat >"$WS/response.json" <<JSON
{"id": 1, "job_info": {"project_id": 4711}, "variables": [],
 "git_info": {"ref": "main", "ref_type": "branch", "protected": $1, "refspecs": ["$2"]}}
JSON
  echo "$WS/response.json"
}

test_no_metadata_means_untrusted() {
  env -i PATH=/usr/bin:/bin "$JOBCELL" explain --json >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 0
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["tier"]=="untrusted" and d["rule"].startswith("fallback"), d' "$OUT" || fail "$(cat "$OUT")"
}

test_protected_push_runs_trusted_with_its_environment() {
  r=$(gitlab_response true "+refs/heads/main:refs/remotes/origin/main")
  env -i PATH=/usr/bin:/bin JOB_RESPONSE_FILE="$r" CUSTOM_ENV_CI=true CI_JOB_TOKEN=tok-it \
    "$JOBCELL" run --workspace "$WS" --audit "$WS/audit.jsonl" -- /bin/sh -c 'echo "$JOBCELL_TIER ${CI_JOB_TOKEN:-none}"' >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 0
  expect_out '^trusted tok-it$'
  expect_err 'tier trusted \(protected-ref\)'
  python3 -c 'import json,sys; a=json.loads(open(sys.argv[1]).readline()); assert a["trust"]["rule"]=="protected-ref" and a["trust"]["facts"]["ref_protected"]["source"]=="job_response", a["trust"]' "$WS/audit.jsonl" || fail "audit trust"
}

test_spoofed_protected_variable_runs_untrusted_without_secrets() {
  r=$(gitlab_response false "+refs/merge-requests/78/head:refs/remotes/origin/main")
  env -i PATH=/usr/bin:/bin JOB_RESPONSE_FILE="$r" CUSTOM_ENV_CI=true CUSTOM_ENV_CI_COMMIT_REF_PROTECTED=true \
    CUSTOM_ENV_CI_PIPELINE_SOURCE=push CI_JOB_TOKEN=tok-it \
    "$JOBCELL" run --workspace "$WS" -- /bin/sh -c 'echo "$JOBCELL_TIER ${CI_JOB_TOKEN:-none}"' >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 0
  expect_out '^untrusted none$'
  expect_err 'tier untrusted'
}

test_explain_shows_every_rule_and_the_contradiction() {
  r=$(gitlab_response false "+refs/heads/main:refs/remotes/origin/main")
  env -i PATH=/usr/bin:/bin JOB_RESPONSE_FILE="$r" CUSTOM_ENV_CI_COMMIT_REF_PROTECTED=true \
    "$JOBCELL" explain >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 0
  expect_out '^contradiction: ref_protected: '
  expect_out 'protected-ref -> trusted'
  expect_out 'member-change-request -> internal'
  expect_out '^tier: untrusted'
}

test_operator_metadata_file() {
  printf '{"ci": "generic", "ref": "main", "ref_type": "branch", "ref_protected": true, "change_request": false}\n' >"$WS/meta.json"
  "$JOBCELL" run --workspace "$WS" --meta "file:$WS/meta.json" -- /bin/sh -c 'echo $JOBCELL_TIER' >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 0; expect_out '^trusted$'
  printf '{"ref_protected": "yes"}\n' >"$WS/meta.json"
  "$JOBCELL" run --workspace "$WS" --meta "file:$WS/meta.json" -- touch "$WS/ran" >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 125
  [ "$(wc -l <"$ERR")" -eq 1 ] || fail "expected one line: $(cat "$ERR")"
  expect_err 'meta\.json: ref_protected: '
  [ ! -e "$WS/ran" ] || fail "the job ran"
  "$JOBCELL" run --workspace "$WS" --meta bogus -- true >"$OUT" 2>"$ERR"; RC=$?
  expect_rc 125; expect_err -- '--meta bogus'
}
