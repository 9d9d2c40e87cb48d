#!/bin/sh
# Runs every fuzz target, one after the other (one fuzzing process at a
# time), for RUNS executions each, under nice. Logs go to fuzz/logs/.
# Usage: fuzz/run-campaign.sh [target ...]   (default: all seven)
set -u
cd "$(dirname "$0")" || exit 1
RUNS=${RUNS:-10000000}
targets=${*:-"config personality hostconfig codec store cli control"}
mkdir -p logs
for t in $targets; do
    case $t in
        codec|control) max=512 ;;
        personality|cli) max=1024 ;;
        *) max=4096 ;;
    esac
    mkdir -p "corpus/$t"
    start=$(date +%s)
    nice -n 19 cargo +nightly fuzz run -s none "$t" "corpus/$t" "seeds/$t" -- \
        -dict="dict/$t.dict" -runs="$RUNS" -max_len=$max -rss_limit_mb=512 -timeout=2 \
        -print_final_stats=1 >"logs/$t.log" 2>&1
    rc=$?
    end=$(date +%s)
    echo "$t rc=$rc wall=$((end - start))s $(grep -E '^#[0-9]+[[:space:]]+DONE' "logs/$t.log" | tail -1)" >>logs/summary.txt
done
