# shellcheck shell=bash disable=SC2034 # RL_TOKEN is read by api() (lib.sh), STACK_* by stack.sh
# 9. Worker crash. (a) 50 times, kill -9 a bff-worker process in the middle
# of a job (t/bff-worker-test: the production runtime plus test kinds whose
# effects are rows of job_test_effects; each job is killed at most twice,
# so none uses up its attempts): every job ends done, each effect once.
# (b) 10,000 orders with a 5 s hold expire through the production
# bff-worker's expire_reservations jobs while workers are killed mid-job:
# every order expired once, its stock released once, stock restored.
SCENARIO="9 worker crash"

scenario()
{
    local wt=$BFF_TEST_BUILDDIR/t/bff-worker-test bw=$BFF_TEST_BUILDDIR/worker/bff-worker
    local q=rl9-$$ sup out=$RL_TMP/s9 kills=0 row jid lb wpid rc=0 i n
    local -A killed=()
    if [[ ! -x $wt || ! -x $bw ]]; then
        figure "$SCENARIO" "bff-worker and t/bff-worker-test built" no yes FAIL
        return 1
    fi
    sql "BEGIN; SET LOCAL client_min_messages = warning;
         CREATE TABLE IF NOT EXISTS job_test_effects (job_id bigint NOT NULL,
           kind text NOT NULL, attempt integer NOT NULL, worker text,
           at timestamptz NOT NULL DEFAULT clock_timestamp()); COMMIT" >/dev/null

    # (a) 90 jobs that sleep 700 ms then record, 200 that record in their
    # transaction; kill workers in the middle of the sleepers.
    sql "INSERT INTO jobs (kind, queue, payload, max_attempts)
           SELECT 'sleep', '$q', '{\"ms\":700}', 5 FROM generate_series(1, 90);
         INSERT INTO jobs (kind, queue, max_attempts)
           SELECT 'record', '$q', 5 FROM generate_series(1, 200);" >/dev/null
    "$wt" --concurrency 4 --queues "$q" --lease 3 --poll 1 >"$out-a.log" 2>&1 &
    sup=$!
    for ((i = 0; i < 1500 && kills < 50; i++)); do
        sleep 0.05
        row=$(sql "SELECT id || ' ' || locked_by FROM jobs WHERE queue = '$q' AND status = 'running'
                     AND kind = 'sleep' AND started_at BETWEEN now() - interval '450 ms'
                     AND now() - interval '100 ms' ORDER BY random() LIMIT 1")
        [[ -n $row ]] || continue
        jid=${row%% *} lb=${row#* } wpid=${lb##*:}
        [[ ${killed[$jid]:-0} -lt 2 ]] || continue
        pgrep -P "$sup" | grep -qx "$wpid" || continue
        kill -KILL "$wpid" 2>/dev/null || continue
        killed[$jid]=$((${killed[$jid]:-0} + 1))
        kills=$((kills + 1))
    done
    for ((i = 0; i < 600; i++)); do
        n=$(sql "SELECT count(*) FROM jobs WHERE queue = '$q' AND status IN ('queued', 'running')")
        [[ $n == 0 ]] && break
        sleep 0.1
    done
    kill -TERM "$sup"
    wait "$sup"
    figure_eq "$SCENARIO" "workers killed mid-job" "$kills" 50
    figure "$SCENARIO" "jobs (90 sleep 700 ms, 200 record)" \
        "$(sql "SELECT count(*) FROM jobs WHERE queue = '$q'")" - INFO
    figure_eq "$SCENARIO" "jobs lost (not done)" \
        "$(sql "SELECT count(*) FROM jobs WHERE queue = '$q' AND status <> 'done'")" 0
    figure_eq "$SCENARIO" "done jobs without their effect" \
        "$(sql "SELECT count(*) FROM jobs j WHERE queue = '$q' AND status = 'done'
                  AND NOT EXISTS (SELECT 1 FROM job_test_effects e WHERE e.job_id = j.id)")" 0
    figure_eq "$SCENARIO" "duplicate effects" \
        "$(sql "SELECT count(*) FROM (SELECT e.job_id FROM job_test_effects e
                  JOIN jobs j ON j.id = e.job_id WHERE j.queue = '$q'
                  GROUP BY e.job_id HAVING count(*) > 1) d")" 0

    # (b) 10,000 expiring holds
    local prod uid stock0 on0 before
    # The holds are made by the API's own function (bff_order_create) in
    # SQL: 10,000 orders through HTTP would take half a minute here.
    RL_TOKEN=$("$RL" token)
    prod=$(mk_product "RL9-$$" 1000000)
    uid=$(sql "INSERT INTO users (username, password_hash) VALUES ('rl9-$$',
                 '\$argon2id\$v=19\$m=65536,t=2,p=1\$unusable') RETURNING id")
    if [[ ! $prod =~ ^[0-9]+$ || ! $uid =~ ^[0-9]+$ ]]; then
        figure "$SCENARIO" "10,000 holds: fixture" "product '$prod' user '$uid'" ids FAIL
        return 1
    fi
    for ((i = 0; i < 10; i++)); do
        sql "SELECT count(*) FROM (SELECT bff_order_create($uid, NULL, NULL, 5,
               jsonb_build_array(jsonb_build_object('product_id', $prod, 'quantity', 1 + g % 3))) r
               FROM generate_series(1, 1000) g) x WHERE (x.r).status <> 201" >"$out-b.out"
        [[ $(cat "$out-b.out") == 0 ]] || rc=1
    done
    figure_eq "$SCENARIO" "10,000 holds: orders reserved" \
        "$(sql "SELECT count(*) FROM orders WHERE created_by = $uid AND status = 'reserved'")" 10000
    stock0=$(sql "SELECT sum(reserved) FROM lots WHERE product_id = $prod")
    on0=$(sql "SELECT sum(on_hand) FROM lots WHERE product_id = $prod")
    sleep 5
    "$bw" --concurrency 3 --lease 3 --poll 1 >"$out-b.log" 2>&1 &
    sup=$!
    before=$(sql "SELECT count(*) FROM movements WHERE kind = 'release'")
    for ((i = 0; i < 6; i++)); do
        sql "INSERT INTO jobs (kind, max_attempts) VALUES ('expire_reservations', 5)" >/dev/null
    done
    sql "SELECT pg_notify('bff_jobs', '')" >/dev/null
    kills=0
    for ((i = 0; i < 1200; i++)); do
        n=$(sql "SELECT count(*) FROM orders WHERE created_by = $uid AND status = 'reserved'")
        [[ $n == 0 ]] && break
        if ((kills < 3)); then
            row=$(sql "SELECT locked_by FROM jobs WHERE kind = 'expire_reservations'
                         AND status = 'running' AND started_at < now() - interval '50 ms' LIMIT 1")
            wpid=${row##*:}
            if [[ -n $row ]] && pgrep -P "$sup" | grep -qx "$wpid" && kill -KILL "$wpid" 2>/dev/null; then
                kills=$((kills + 1))
            fi
        fi
        sleep 0.05
    done
    kill -TERM "$sup"
    wait "$sup"
    figure "$SCENARIO" "10,000 holds: reserved units before expiry" "$stock0" - INFO
    figure "$SCENARIO" "10,000 holds: expire jobs' workers killed mid-job" "$kills" - INFO
    figure_eq "$SCENARIO" "10,000 holds: orders expired" \
        "$(sql "SELECT count(*) FROM orders WHERE created_by = $uid AND status = 'expired'")" 10000
    figure_eq "$SCENARIO" "10,000 holds: double releases" \
        "$(sql "SELECT count(*) FROM (SELECT m.order_id, m.lot_id FROM movements m
                  JOIN orders o ON o.id = m.order_id WHERE o.created_by = $uid
                  AND m.kind = 'release' GROUP BY 1, 2 HAVING count(*) > 1) d")" 0
    figure_eq "$SCENARIO" "10,000 holds: release movements = allocations" \
        "$(($(sql "SELECT count(*) FROM movements WHERE kind = 'release'") - before))" \
        "$(sql "SELECT count(*) FROM allocations a JOIN orders o ON o.id = a.order_id
                  WHERE o.created_by = $uid")"
    figure_eq "$SCENARIO" "10,000 holds: stock restored (reserved, on_hand)" \
        "$(sql "SELECT sum(reserved) || ', ' || sum(on_hand) FROM lots WHERE product_id = $prod")" \
        "0, $on0"
    figure_invariants "$SCENARIO"
    return $rc
}
