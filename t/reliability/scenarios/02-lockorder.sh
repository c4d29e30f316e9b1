# shellcheck shell=bash
# 2. Multi-line lock order: 32 clients, orders of 2-5 products in random
# line order. Lots are locked in one global order, so PostgreSQL detects no
# deadlock at all, and none reaches a client.
SCENARIO="2 multi-line lock order"
scenario()
{
    local rc=0
    "$RL" lockorder --clients 32 --orders 40 --products 8 || rc=1
    figure_invariants "$SCENARIO"
    return $rc
}
