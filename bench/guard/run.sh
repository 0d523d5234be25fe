#!/usr/bin/env bash
# The confidentiality-guard benchmark: trygg-guard and Microsoft Presidio side by side in one run,
# on the same texts (the dev corpus, repeated), single thread each. Writes the section
# "## Confidentiality guard" of bench/RESULTS.md.
#
#   bench/guard/run.sh            # from the repository root or anywhere
#   SECONDS_PER_RUN=5 TRYGG_GUARD_CORPUS=path/to/corpus.jsonl bench/guard/run.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
corpus=${TRYGG_GUARD_CORPUS:-$root/crates/guard/corpus/guard-dev.jsonl}
seconds=${SECONDS_PER_RUN:-3}
venv=$root/bench/.venv

if [ ! -f "$corpus" ]; then
  echo "corpus not found: $corpus (set TRYGG_GUARD_CORPUS)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check presidio-analyzer

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "building and running the trygg-guard bench (release) ..." >&2
(cd "$root" && cargo bench -q -p trygg-guard --bench throughput -- \
  --corpus "$corpus" --seconds "$seconds" --export-terms "$tmp/terms.json") | tail -n 1 > "$tmp/trygg.json"

echo "running Presidio ..." >&2
"$venv/bin/python" "$here/presidio_bench.py" "$corpus" "$tmp/terms.json" "$seconds" > "$tmp/presidio.json"

"$venv/bin/python" "$here/report.py" "$tmp/trygg.json" "$tmp/presidio.json" "$root/bench/RESULTS.md" \
  "SECONDS_PER_RUN=$seconds bench/guard/run.sh"
echo "updated $root/bench/RESULTS.md" >&2
