# shellcheck shell=bash
# 10. Hostile input battery through nginx (t/reliability/rl_hostile.c):
# crafted cases, 10,000 random mutations, SQL-looking strings. No 5xx, no
# crash of a FastCGI worker, nothing changed by a rejected request.
SCENARIO="10 hostile input"
scenario()
{
    local rc=0 d0 w0 w1
    d0=$(worker_deaths)
    w0=$(fcgi_workers | sort | paste -sd' ' -)
    "$RL" hostile --mutations 10000 --clients 4 || rc=1
    w1=$(fcgi_workers | sort | paste -sd' ' -)
    figure_eq "$SCENARIO" "FastCGI worker crashes" "$(($(worker_deaths) - d0))" 0
    figure_eq "$SCENARIO" "FastCGI workers replaced" "$([[ $w0 == "$w1" ]] && echo 0 || echo "$w0 -> $w1")" 0
    figure_invariants "$SCENARIO"
    return $rc
}
