#!/usr/bin/env bash
# Run the README's test command while busy processes burn every core (two on a 2-core
# machine): the suite must give the same answer on a loaded machine as on an idle one.
# The burners are started and stopped by PID, also when the tests fail or are interrupted.
#
#   bash tests/run_under_load.sh            # from anywhere; works in the project root
#   BURNERS=4 bash tests/run_under_load.sh  # more load
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
export PIP_DISABLE_PIP_VERSION_CHECK=1

count="${BURNERS:-$(nproc 2>/dev/null || echo 2)}"
[ "$count" -ge 2 ] || count=2
burners=()
stop_burners() {
  for pid in "${burners[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${burners[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_burners EXIT
for _ in $(seq "$count"); do
  python3 -c 'while True: pass' &
  burners+=("$!")
done
echo "run_under_load: ${count} busy processes (PIDs ${burners[*]}) burning the cores" >&2

# The README's test command, verbatim:
python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q
