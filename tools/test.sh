#!/usr/bin/env bash
# Install, then run every CPU tier and print how long each took:
#   fast   textbook invariants (-n 2)
#   data   + slow: the chapter's figures on the real data (ISLP_CH10_DATA, default ../shared/data)
#   bench  every benchmark once as a smoke test (timing needs --benchmark; see README)
# Set TIERS to run a subset, e.g. TIERS="fast" bash tools/test.sh
set -uo pipefail
cd "$(dirname "$0")/.."
TIERS=${TIERS:-"setup fast slow bench"}
mkdir -p reports
status=0
declare -A took
stage() {  # stage NAME COMMAND...
    local name=$1; shift
    local t0=$SECONDS
    echo "=== $name: $*"
    "$@"
    local rc=$?
    took[$name]=$((SECONDS - t0))
    echo "=== $name finished in ${took[$name]} s (exit $rc)"
    [ $rc -eq 0 ] || status=1
    return $rc
}
for tier in $TIERS; do
    case $tier in
        setup) stage setup bash tools/setup.sh || exit 1 ;;
        fast)  stage fast .venv/bin/pytest -m fast -n 2 -q -p no:cacheprovider --claims-report reports/claims-fast.json ;;
        slow)  stage slow .venv/bin/pytest -m "(data or slow) and not gpu" -q -p no:cacheprovider --durations=15 --claims-report reports/claims-slow.json ;;
        bench) stage bench .venv/bin/pytest benchmarks -m "not gpu" -q -p no:cacheprovider ;;
        *) echo "unknown tier $tier"; exit 2 ;;
    esac
done
.venv/bin/python - <<'PY' || true
import json, pathlib
merged = {}
for f in ("reports/claims-fast.json", "reports/claims-slow.json"):
    p = pathlib.Path(f)
    if p.exists():
        for k, v in json.loads(p.read_text()).items():
            merged.setdefault(k, []).extend(v)
pathlib.Path("reports/claims.json").write_text(json.dumps(merged, indent=2, sort_keys=True))
PY
echo "=== stage times:"
for k in $TIERS; do [ -n "${took[$k]+x}" ] && echo "    $k: ${took[$k]} s"; done
exit $status
