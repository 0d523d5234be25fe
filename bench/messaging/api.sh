#!/usr/bin/env bash
# Messages per second through the API (issue #12, the second half of its benchmark), side by side
# in one run:
#   Trygg:    POST /api/v1/orgs/{org}/threads/{thread}/messages {"body": "<~120 bytes>"} by a
#             signed-in clinician (developer login of `trygg demo`, release build): session and
#             CSRF check, the access decision (health-write through a care relationship), the
#             body sealed with the organisation's key, the message row, an audit entry (Merkle
#             log, group commit, SQLite WAL with synchronous = FULL), and a "new message" SMS
#             notice queued in the same unit (the patient consented; the SMS gateway is the local
#             peer tests/e2e/peers/sms.js, so the notice worker delivers them meanwhile, as in
#             service). Every answer is checked: 201 with "notified":"sms".
#   Baseline: bench/messaging/baseline (axum 0.8, tokio, sqlx 0.8 SQLite, WAL, synchronous =
#             FULL): the same POST JSON, one INSERT of one row (one autocommit transaction, one
#             SQLite connection), 201.
# Load: wrk (bench/messaging/api.lua), keep-alive connections, each count for DURATION seconds.
# Each Trygg POST run writes to THREADS threads started just before it, in turn (a thread in
# service holds a few messages; a thread that grows by thousands a second measures its own
# growth too: the one-thread run below shows it).
# The baseline gets the same requests. Trygg first, then, once its outbox has drained (so its
# notice worker does not run during the baseline), the baseline. Then, at the largest count, runs
# that take parts away from Trygg's request or add one, to see where its time goes:
#   session-get      GET /api/v1/auth/session: HTTP, session lookup, no unit of work;
#   tasks-get        GET /api/v1/orgs/{org}/tasks: the session, an access decision (patient-read,
#                    no patient), one audit entry and its group commit; no row written;
#   post-one-thread  the POST, every request to one thread (it grows during the run);
#   post-no-notice   the POST with the patient's SMS consent withdrawn: no notice queued (the
#                    channel, guard and consent are still checked), no delivery by the worker.
# The issue's target: at least 5,000 messages/s with p99 under 25 ms (SQLite).
# Server CPU per request is read from /proc/<pid>/stat over each run (all threads).
#
# Prints one JSON line of results on stdout; progress on stderr. Builds what it needs (release),
# starts and stops everything in a temporary directory. Needs wrk, jq, curl, node, sqlite3.
# Usage (from the repository root): bench/messaging/api.sh
#   DURATION=10 CONNECTIONS="16 64" THREADS=200 ELIMINATION=1 WRK_THREADS=1 bench/messaging/api.sh
#   TRYGG_BIN=path / BASELINE_BIN=path skip a build (CARGO_TARGET_DIR is honoured). GATEWAY=dead
#   points the SMS gateway at a closed local port instead of the peer (notices are queued, their
#   attempts fail and are retried later). BASELINE_POOL=N gives the baseline N connections.
#   PROFILE=FILE records Trygg with `perf` during the POST at the largest count and writes the
#   flat report there. KEEP=DIR copies the temporary directory (databases, logs) there.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-"16 64"}
ELIMINATION=${ELIMINATION:-1}
WRK_THREADS=${WRK_THREADS:-1}
WARMUP=${WARMUP:-2}
GATEWAY=${GATEWAY:-peer}
BASELINE_POOL=${BASELINE_POOL:-1}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120}
THREADS=${THREADS:-200}
ORG=normland-legesenter
TOKEN=bench-gateway-token
TEXT='Hei! Prøvesvarene dine fra forrige uke er klare og ser fine ut. Ta kontakt om du har spørsmål, ellers ses vi i mars.'
BODY=$(jq -cn --arg b "$TEXT" '{body: $b}')
TARGET_RPS=5000
TARGET_P99=25
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

log() { echo "[api] $*" >&2; }
die() { log "$*"; exit 1; }
# The load tool and helpers from Debian, installed when missing (as scripts/test-all installs
# Chromium).
missing=()
for tool in wrk jq curl sqlite3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  log "installing ${missing[*]} from Debian"
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for tool in wrk jq curl node sqlite3; do
  command -v "$tool" >/dev/null || die "$tool is needed and could not be installed"
done

if [ -z "${TRYGG_BIN:-}" ]; then
  log "building trygg (release) ..."
  cargo build -q --release --bin trygg
  TRYGG_BIN=$CARGO_TARGET_DIR/release/trygg
fi
if [ -z "${BASELINE_BIN:-}" ]; then
  log "building the baseline (release) ..."
  cargo build -q --release --manifest-path bench/messaging/baseline/Cargo.toml
  BASELINE_BIN=$CARGO_TARGET_DIR/release/trygg-bench-baseline
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/trygg-bench-api.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then cp -r "$dir" "$KEEP"; fi
  rm -rf "$dir"
}
trap cleanup EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# Waits until FILE has a line matching PATTERN (or the process PID ended, or 120 s).
wait_line() {
  local file=$1 pattern=$2 pid=$3 i
  for ((i = 0; i < 1200; i++)); do
    if grep -q -- "$pattern" "$file" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$file" "${file%.out}.err" >&2 2>/dev/null; die "process $pid ended"; }
    sleep 0.1
  done
  die "timed out waiting for '$pattern' in $file"
}
# CPU seconds (user + system, all threads) a process has used.
cpu_secs() {
  awk '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / 100 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# Arithmetic on decimals (awk; bc would print ".5" for 0.5, which is not JSON).
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
now() { date +%s.%N; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# --- The SMS gateway: the peer, or a closed port. ---
if [ "$GATEWAY" = peer ]; then
  node tests/e2e/peers/sms.js --port 0 --shape generic --token "$TOKEN" --out "$dir/sms.jsonl" \
    >"$dir/sms.out" 2>/dev/null &
  sms_pid=$!
  pids+=("$sms_pid")
  wait_line "$dir/sms.out" listening "$sms_pid"
  sms_port=$(jq -r .listening "$dir/sms.out")
else
  sms_pid=
  sms_port=$(free_port)
fi

# --- Trygg. ---
data=$dir/trygg
log "starting trygg demo (SMS gateway: $GATEWAY at 127.0.0.1:$sms_port) ..."
TRYGG_SMS_GATEWAY_URL=http://127.0.0.1:$sms_port TRYGG_SMS_GATEWAY_TOKEN=$TOKEN RUST_LOG=${RUST_LOG:-info} \
  "$TRYGG_BIN" demo --data-dir "$data" --listen 127.0.0.1:0 >"$dir/trygg.out" 2>"$dir/trygg.err" &
trygg_pid=$!
pids+=("$trygg_pid")
wait_line "$dir/trygg.out" "^Stop with" "$trygg_pid"
port=$(grep -m1 'Start page' "$dir/trygg.out" | grep -o 'http://[^/ ]*' | sed 's/.*://')
HOSTHDR=localhost:$port
ORIGIN=http://$HOSTHDR
URL=http://127.0.0.1:$port
cli() { RUST_LOG=error "$TRYGG_BIN" "$@" --data-dir "$data"; }

# The console's part: the SMS sender name, the minimum assurance (the developer login is *low*;
# `trygg demo` sets health data to *substantial* at each start, so this is done while it runs:
# the server reads the setting at every decision), the patient and their consent.
cli org messaging --org "$ORG" --sender-name Normland >/dev/null
for perm in health-read health-write care-manage patient-read; do
  cli org assurance --org "$ORG" --permission "$perm" --level low >/dev/null
done
patient=$(cli patient list --org "$ORG" --json | jq -r '.[0].id')
consent() {
  cli consent set --org "$ORG" --patient "$patient" --purpose portal-notices --channel sms \
    --granted "$1" --text-version 1 >/dev/null
}
consent true

# --- Developer logins: the secretary gives the doctor a care relationship; the doctor writes. ---
page=$(curl -sf -H "Host: $HOSTHDR" "$URL/personell?lang=en")
choice() { # the first option of ORG whose label names the role
  grep -o "<option value=\"$ORG:[0-9a-f-]*\">[^<]*$1[^<]*" <<<"$page" | head -n 1 | sed 's/<option value="\([^"]*\)".*/\1/'
}
doctor=$(choice doctor)
secretary=$(choice secretary)
[ -n "$doctor" ] && [ -n "$secretary" ] || die "no doctor/secretary on the developer login page"
login() { # prints "cookie<TAB>csrf"
  local cookie csrf
  cookie=$(curl -s -o /dev/null -D - -H "Host: $HOSTHDR" -H "Origin: $ORIGIN" -H "Sec-Fetch-Site: same-origin" \
    --data-urlencode "person=$1" "$URL/personell/dev-login" | tr -d '\r' |
    sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -n 1)
  [ -n "$cookie" ] || die "developer login failed for $1"
  csrf=$(curl -sf -H "Host: $HOSTHDR" -H "Cookie: $cookie" "$URL/api/v1/auth/session" | jq -r .csrf_token)
  printf '%s\t%s\n' "$cookie" "$csrf"
}
api() { # METHOD PATH [JSON] with the session in COOKIE/CSRF; prints the body, fails unless 2xx
  local out code
  out=$(curl -s -w '\n%{http_code}' -X "$1" -H "Host: $HOSTHDR" -H "Origin: $ORIGIN" -H "Cookie: $COOKIE" \
    -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' ${3:+--data "$3"} "$URL$2")
  code=$(tail -n 1 <<<"$out")
  case $code in 2??) head -n -1 <<<"$out" ;; *) die "$1 $2 answered $code: $(head -n -1 <<<"$out")" ;; esac
}
IFS=$'\t' read -r COOKIE CSRF < <(login "$secretary")
[ -n "$COOKIE" ] && [ -n "$CSRF" ] || die "no session for the secretary"
api POST "/api/v1/orgs/$ORG/care-relationships" \
  "$(jq -cn --arg d "${doctor#*:}" --arg p "$patient" '{personnel_id: $d, patient_id: $p, reason: "fastlege", days: 30}')" >/dev/null
IFS=$'\t' read -r COOKIE CSRF < <(login "$doctor")
[ -n "$COOKIE" ] && [ -n "$CSRF" ] || die "no session for the doctor"
thread=$(api POST "/api/v1/orgs/$ORG/patients/$patient/threads" \
  "$(jq -cn --arg b "$TEXT" '{subject: "Prøvesvar", body: $b}')" | jq -r .thread)
first=$(api POST "/api/v1/orgs/$ORG/threads/$thread/messages" "$BODY")
[ "$(jq -r .notified <<<"$first")" = sms ] || die "the first message was not notified by SMS: $first"
log "set up: patient $patient, thread $thread, doctor ${doctor#*:}; first message: $first"
POST_PATH=/api/v1/orgs/$ORG/threads/$thread/messages

# --- The baseline. ---
"$BASELINE_BIN" 127.0.0.1:0 "$dir/baseline.sqlite" "$BASELINE_POOL" >"$dir/baseline.out" 2>"$dir/baseline.err" &
base_pid=$!
pids+=("$base_pid")
wait_line "$dir/baseline.out" listening "$base_pid"
BASE_URL=http://$(sed -n 's/^listening //p' "$dir/baseline.out")

# --- Runs. ---
org_db() { # the organisation's database file (the one that holds the thread)
  local f
  for f in "$data"/orgs/*.sqlite; do
    if [ "$(sqlite3 -readonly "$f" "SELECT COUNT(*) FROM threads WHERE id = '$thread'" 2>/dev/null)" = 1 ]; then
      echo "$f"
      return
    fi
  done
}
ORG_DB=$( (command -v sqlite3 >/dev/null && org_db) || true)
pending_notices() {
  sqlite3 -readonly "$ORG_DB" "SELECT COUNT(*) FROM notices WHERE status IN ('queued', 'sending')" 2>/dev/null || echo -1
}
# Waits until the outbox holds nothing to send (peer gateway only); prints the seconds it took
# (-1 with GATEWAY=dead: it only pauses 2 s).
drain() {
  local t0 n
  t0=$(now)
  if [ "$GATEWAY" = peer ] && [ -n "$ORG_DB" ]; then
    while n=$(pending_notices) && [ "$n" != 0 ] && [ "$n" != -1 ]; do
      if (($(printf '%.0f' "$(calc "$(now) - $t0")") > DRAIN_TIMEOUT)); then
        log "the outbox still holds $n notices after ${DRAIN_TIMEOUT} s"
        break
      fi
      sleep 0.5
    done
  else
    # A closed gateway: failed notices wait for their retry, so there is no end to wait for.
    sleep 2
    echo -1
    return
  fi
  calc "$(now) - $t0"
}
# run LABEL TARGET(trygg|baseline) URL METHOD CONNECTIONS SECONDS [EXPECT]: one wrk run to the
# paths in RUN_PATHS in turn (empty: URL itself); prints its JSON line with the processes' CPU
# use added.
run() {
  local label=$1 target=$2 url=$3 method=$4 conns=$5 secs=$6 expect=${7:-} spid c0 p0 w0 out line
  spid=$([ "$target" = trygg ] && echo "$trygg_pid" || echo "$base_pid")
  c0=$(cpu_secs "$spid")
  p0=$([ -n "$sms_pid" ] && cpu_secs "$sms_pid" || echo 0)
  w0=$(now)
  out=$(METHOD=$method BODY=$BODY COOKIE=$COOKIE CSRF=$CSRF ORIGIN=$ORIGIN HOST=$HOSTHDR EXPECT=$expect \
    PATHS=${RUN_PATHS:-} wrk -t "$WRK_THREADS" -c "$conns" -d "${secs}s" --timeout 10s -s bench/messaging/api.lua \
    "$url${RUN_PATHS%% *}")
  line=$(grep '^{' <<<"$out" | tail -n 1)
  [ -n "$line" ] || die "no result from wrk: $out"
  jq -c --arg lbl "$label" --arg target "$target" --argjson conns "$conns" \
    --argjson cpu "$(calc "$(cpu_secs "$spid") - $c0")" \
    --argjson peer "$(calc "$([ -n "$sms_pid" ] && cpu_secs "$sms_pid" || echo 0) - $p0")" \
    --argjson wall "$(calc "$(now) - $w0")" \
    '{"label": $lbl, target: $target, connections: $conns} + .
     + {server_cpu_cores: (($cpu / $wall) * 100 | round / 100),
        server_cpu_us_per_request: (if .requests > 0 then ($cpu * 1e6 / .requests | round) else null end),
        sms_peer_cpu_cores: (($peer / $wall) * 100 | round / 100)}' <<<"$line"
}
summarise() { # one line of progress for a run's JSON
  jq -r '"\(.label) \(.target) c=\(.connections): \(.rps | round)/s good, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, bad \(.bad), server CPU \(.server_cpu_cores) cores (\(.server_cpu_us_per_request) µs/request)"' <<<"$1" >&2
}

# Threads to write to: THREADS new ones before each POST run (a thread in service holds a few
# messages; one thread that grows by thousands a second would measure its growth, see the
# one-thread run below). Prints the messages paths, space-separated.
new_threads() {
  local i t paths=()
  for ((i = 0; i < $1; i++)); do
    t=$(api POST "/api/v1/orgs/$ORG/patients/$patient/threads" "$THREAD_JSON" | jq -r .thread)
    paths+=("/api/v1/orgs/$ORG/threads/$t/messages")
  done
  echo "${paths[*]}"
}
thread_messages() { # messages in the setup thread
  sqlite3 -readonly "$ORG_DB" "SELECT COUNT(*) FROM messages WHERE thread_id = '$thread'" 2>/dev/null || echo null
}
# post_run LABEL CONNECTIONS [EXPECT]: Trygg, then (after the drain) the baseline, on new threads.
post_run() {
  local label=$1 c=$2 expect=${3:-} r d
  RUN_PATHS=$(new_threads "$THREADS")
  log "Trygg: $label, $c connections, ${DURATION} s, over $THREADS new threads ..."
  if [ -n "${PROFILE:-}" ] && [ "$label" = post ] && [ "$c" = "$last_conns" ] && command -v perf >/dev/null; then
    perf record -q -F 999 -p "$trygg_pid" -o "$dir/perf.data" -- sleep $((DURATION > 3 ? DURATION - 2 : DURATION)) \
      >/dev/null 2>&1 &
    profile_pid=$!
    pids+=("$profile_pid")
  fi
  r=$(run "$label" trygg "$URL" POST "$c" "$DURATION" "$expect")
  if [ -n "$profile_pid" ]; then
    wait "$profile_pid" || true
    profile_pid=
    perf report -i "$dir/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null | head -n 150 >"$PROFILE" || true
    log "  profile written to $PROFILE"
  fi
  d=$(drain)
  r=$(jq -c --argjson d "$d" '. + {outbox_drained_secs_after: ($d * 10 | round / 10)}' <<<"$r")
  summarise "$r"
  log "  outbox drained ${d} s after the run"
  results+=("$r")
  if [ "$label" = post ]; then
    log "baseline: $label, $c connections, ${DURATION} s ..."
    r=$(run "$label" baseline "$BASE_URL" POST "$c" "$DURATION")
    summarise "$r"
    results+=("$r")
  fi
}

results=()
profile_pid=
last_conns=${CONNECTIONS##* }
THREAD_JSON=$(jq -cn --arg b "$TEXT" '{subject: "Prøvesvar", body: $b}')
log "warming up (${WARMUP} s each) ..."
RUN_PATHS=$POST_PATH
run warmup trygg "$URL" POST 16 "$WARMUP" >/dev/null
run warmup baseline "$BASE_URL" POST 16 "$WARMUP" >/dev/null
log "  outbox drained $(drain) s after the warm-up"
for c in $CONNECTIONS; do
  post_run post "$c" '"notified":"sms"'
done

if [ "$ELIMINATION" = 1 ]; then
  c=$last_conns
  log "Trygg, parts taken away or added, $c connections, ${DURATION} s each ..."
  RUN_PATHS=
  r=$(run session-get trygg "$URL/api/v1/auth/session" GET "$c" "$DURATION")
  summarise "$r"
  results+=("$r")
  # patient-read without a patient: the decision, one audit entry, the group commit; no row.
  r=$(run tasks-get trygg "$URL/api/v1/orgs/$ORG/tasks" GET "$c" "$DURATION")
  summarise "$r"
  results+=("$r")
  # One thread for every request: it grows by thousands during the run.
  RUN_PATHS=$POST_PATH
  before=$(thread_messages)
  log "Trygg: post to one thread holding $before messages, $c connections, ${DURATION} s ..."
  r=$(run post-one-thread trygg "$URL" POST "$c" "$DURATION" '"notified":"sms"')
  after=$(thread_messages)
  d=$(drain)
  r=$(jq -c --argjson b "$before" --argjson a "$after" --argjson d "$d" \
    '. + {thread_messages_before: $b, thread_messages_after: $a, outbox_drained_secs_after: ($d * 10 | round / 10)}' <<<"$r")
  summarise "$r"
  results+=("$r")
  consent false
  post_run post-no-notice "$c" '"notified":null'
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
trygg_err_lines=$(wc -l <"$dir/trygg.err")

printf '%s\n' "${results[@]}" | jq -cs \
  --arg load_start "$load_start" --arg load_end "$load_end" --argjson duration "$DURATION" \
  --argjson wrk_threads "$WRK_THREADS" --arg gateway "$GATEWAY" --argjson pool "$BASELINE_POOL" \
  --argjson body_bytes "$(printf '%s' "$TEXT" | wc -c)" --argjson target_rps "$TARGET_RPS" \
  --argjson target_p99 "$TARGET_P99" --arg cpu "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)" \
  --argjson cores "$(nproc)" --arg wrk "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)" \
  --argjson trygg_log_lines "$trygg_err_lines" '
  . as $runs
  | ([$runs[] | select(.label == "post")] | group_by(.connections)
     | map({connections: .[0].connections,
            trygg_rps: (map(select(.target == "trygg"))[0].rps | round),
            baseline_rps: (map(select(.target == "baseline"))[0].rps | round),
            trygg_p50_ms: map(select(.target == "trygg"))[0].p50_ms,
            trygg_p99_ms: map(select(.target == "trygg"))[0].p99_ms,
            baseline_p50_ms: map(select(.target == "baseline"))[0].p50_ms,
            baseline_p99_ms: map(select(.target == "baseline"))[0].p99_ms,
            trygg_bad: map(select(.target == "trygg"))[0].bad,
            baseline_bad: map(select(.target == "baseline"))[0].bad}
          | . + {ratio: ((.trygg_rps / .baseline_rps) * 100 | round / 100),
                 target_met: (.trygg_rps >= $target_rps and .trygg_p99_ms < $target_p99 and .trygg_bad == 0)})) as $summary
  | {bench: "messages-through-the-api", issue: 12,
     machine: {cores: $cores, cpu: $cpu, load_average_start: $load_start, load_average_end: $load_end},
     setup: {duration_s: $duration, load_tool: $wrk, wrk_threads: $wrk_threads, sms_gateway: $gateway,
             body_bytes: $body_bytes, baseline_sqlite_connections: $pool, trygg_stderr_lines: $trygg_log_lines},
     target: {rps: $target_rps, p99_ms: $target_p99, met_at: [$summary[] | select(.target_met) | .connections]},
     summary: $summary, runs: $runs}'
