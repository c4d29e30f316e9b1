# shellcheck shell=bash
# 1. Hot-product race: 64 clients x 200 orders of 1-3 units against one
# product with 3 lots and 500 units.
SCENARIO="1 hot-product race"
scenario()
{
    local rc=0
    "$RL" race --clients 64 --orders 200 || rc=1
    figure_invariants "$SCENARIO"
    return $rc
}
