# shellcheck shell=bash
# 3. Idempotent retries: 500 orders each sent 3 times with one
# Idempotency-Key, every 4th key's three sends at the same moment.
SCENARIO="3 idempotent retries"
scenario()
{
    local rc=0
    "$RL" idem --orders 500 --concurrent-every 4 || rc=1
    figure_invariants "$SCENARIO"
    return $rc
}
