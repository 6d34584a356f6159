#!/usr/bin/env bash
# Run the benchmarks; extra arguments go to check_1m.py (e.g. --database-url postgresql://.../bench).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
echo "== bench/crawl_rate.py"
"$PY" bench/crawl_rate.py
echo
echo "== bench/accounts_rate.py"
"$PY" bench/accounts_rate.py
echo
echo "== bench/discover.py" && "$PY" bench/discover.py && echo
echo "== bench/check_1m.py $*"
"$PY" bench/check_1m.py "$@"
