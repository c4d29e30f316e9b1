# shellcheck shell=bash disable=SC2034 # RL_TOKEN is read by api() (lib.sh), STACK_* by stack.sh
# 11. Memory.
# (a) The unit suites (t/check_*, not the end-to-end ones) under valgrind
#     with CK_FORK=no: definitely-lost bytes 0, invalid accesses 0.
# (b) bff-fcgi built with AddressSanitizer + LeakSanitizer (a copy of the
#     source tree, configured out of the way) runs the pool for 60 s of
#     mixed load (reads, orders, hostile mutations); then it is stopped
#     gracefully, so each process's LeakSanitizer report is written.
# (c) The normal pool: VmRSS of every worker after a warm-up and after
#     100,000 more requests: flat within 5 %.
SCENARIO="11 memory"

vg_suites()
{
    local t log defl errs tot_def=0 tot_err=0 n=0 bad=() rc
    mkdir -p "$RL_TMP/valgrind"
    for t in "$BFF_TEST_BUILDDIR"/t/check_*; do
        [[ -x $t && ! -d $t ]] || continue
        case ${t##*/} in check_e2e_* | check_ctl_* | *.c | *.o | *.sh | *.log | *.trs) continue ;; esac
        log=$RL_TMP/valgrind/${t##*/}.log
        rc=0
        (cd "$BFF_TEST_BUILDDIR/t" && CK_FORK=no valgrind --leak-check=full \
            --child-silent-after-fork=yes --log-file="$log" "$t" >"$log.out" 2>&1) || rc=$?
        defl=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | head -n 1)
        errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | head -n 1)
        n=$((n + 1))
        tot_def=$((tot_def + ${defl:-0}))
        tot_err=$((tot_err + ${errs:-0}))
        if [[ $rc -ne 0 || ${defl:-0} -ne 0 || ${errs:-0} -ne 0 ]]; then
            bad+=("${t##*/}")
            tail -n 30 "$log" >&2
        fi
    done
    figure "$SCENARIO" "valgrind: unit suites run (CK_FORK=no)" "$n" - INFO
    figure_eq "$SCENARIO" "valgrind: definitely lost bytes" "$tot_def" 0
    figure_eq "$SCENARIO" "valgrind: errors (invalid accesses, ...)" "$tot_err" 0
    figure_eq "$SCENARIO" "valgrind: suites failing under valgrind" "${#bad[@]}${bad[*]:+ (${bad[*]})}" 0
}

# A copy of the source tree built with ASan; prints the binary's path.
asan_build()
{
    local src=$BFF_TEST_SRCDIR dst=$RL_TMP/asan
    rm -rf "$dst"
    mkdir -p "$dst/src"
    if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        {
            git -C "$src" ls-files -co --exclude-standard
            (cd "$src" && ls configure aclocal.m4 Makefile.in ./*/Makefile.in build-aux/* m4/*.m4 2>/dev/null)
        } | (cd "$src" && xargs -d '\n' cp --parents -t "$dst/src" 2>/dev/null)
    else
        tar -C "$src" --exclude=./var -cf - . | tar -C "$dst/src" -xf -
        [[ -f $dst/src/Makefile ]] && make -s -C "$dst/src" distclean >/dev/null 2>&1
    fi
    (
        cd "$dst/src" || exit 1
        [[ -x configure ]] || autoreconf -fi >/dev/null 2>&1 || exit 1
        ./configure -q CFLAGS='-O1 -g -fsanitize=address -fno-omit-frame-pointer' \
            LDFLAGS='-fsanitize=address' >/dev/null || exit 1
        make -s -j2 -C lib >/dev/null && make -s -j2 -C fcgi bff-fcgi >/dev/null
    ) >"$dst/build.log" 2>&1 || { tail -n 30 "$dst/build.log" >&2; return 1; }
    chmod -R a+rX "$dst"
    echo "$dst/src/fcgi/bff-fcgi"
}

asan_pool()
{
    local bin logs=$RL_TMP/asan/log stop=$RL_TMP/s11.stop t0 p1 p2 p3 rc=0 errs leaks bytes n
    t0=$(date +%s)
    if ! bin=$(asan_build); then
        figure "$SCENARIO" "ASan: build of bff-fcgi" failed built FAIL
        return 1
    fi
    figure "$SCENARIO" "ASan: build of a copy of the tree" "$(($(date +%s) - t0)) s" - INFO
    mkdir -p "$logs"
    chmod 777 "$logs"
    stackctl stop fcgi >/dev/null 2>&1
    (
        # shellcheck source=/dev/null
        . "$BFF_TEST_SRCDIR/scripts/lib/stack.sh"
        stack_load "$RL_STATE"
        STACK_FCGI_BIN=$bin
        export ASAN_OPTIONS="detect_leaks=1:log_path=$logs/asan:abort_on_error=0:halt_on_error=0"
        stack_start_fcgi
    ) >/dev/null 2>&1 || { figure "$SCENARIO" "ASan: pool started" no yes FAIL; stackctl start fcgi; return 1; }
    rm -f "$stop"
    # the pool really runs the instrumented binary
    local inst=0 w
    for w in $(fcgi_master) $(fcgi_workers); do
        grep -q libasan "/proc/$w/maps" 2>/dev/null && inst=$((inst + 1))
    done
    figure_eq "$SCENARIO" "ASan: pool processes instrumented (master + workers)" "$inst" \
        "$((1 + $(cat "$RL_STATE/run/fcgi.workers")))"
    "$RL" reads --scenario "$SCENARIO" --label "ASan pool, reads" --clients 4 --products 10 \
        --seconds 60 >"$RL_TMP/s11-asan-reads.out" 2>&1 &
    p1=$!
    "$RL" orders --scenario "$SCENARIO" --label "ASan pool, orders" --clients 2 --seconds 60 \
        >"$RL_TMP/s11-asan-orders.out" 2>&1 &
    p2=$!
    "$RL" hostile --scenario "$SCENARIO" --mutations-only --mutations 4000 --clients 1 >"$RL_TMP/s11-asan-hostile.out" 2>&1 &
    p3=$!
    wait $p1 || rc=1
    wait $p2 || rc=1
    wait $p3 || rc=1
    n=$(grep -h 'requests' "$RL_TMP/s11-asan-reads.out" | sed -n 's/.*requests *\([0-9]*\) in.*/\1/p')
    grep -E '  (FAIL)' "$RL_TMP"/s11-asan-*.out
    stackctl stop fcgi >/dev/null 2>&1 # graceful: each process writes its LeakSanitizer report
    stackctl start fcgi >/dev/null 2>&1
    errs=$(cat "$logs"/asan.* 2>/dev/null | grep -c 'ERROR: AddressSanitizer' || true)
    leaks=$(cat "$logs"/asan.* 2>/dev/null | grep -c '^Direct leak' || true)
    bytes=$(cat "$logs"/asan.* 2>/dev/null | sed -n 's/^Direct leak of \([0-9]*\) byte.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    figure "$SCENARIO" "ASan: 60 s load (reads, orders, mutations)" "${n:-?} reads + orders + 4000 mutations" - INFO
    figure_eq "$SCENARIO" "ASan: invalid accesses reported" "$errs" 0
    figure_eq "$SCENARIO" "LSan: definitely lost (direct leaks)" "$bytes bytes in $leaks" "0 bytes in 0"
    if [[ $((errs + leaks)) -gt 0 ]]; then head -n 60 "$logs"/asan.* >&2; fi
    return $rc
}

rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

rss_flat()
{
    local w before=() after=() i worst=0 d pids out=$RL_TMP/s11-rss.out rc=0 n=0
    "$RL" reads --scenario "$SCENARIO" --label "RSS warm-up" --clients 8 --products 20 \
        --requests 5000 >/dev/null 2>&1
    mapfile -t pids < <(fcgi_workers)
    for w in "${pids[@]}"; do before+=("$(rss_of "$w")"); done
    "$RL" reads --scenario "$SCENARIO" --label "RSS load" --clients 8 --products 20 \
        --requests 100000 >"$out" 2>&1 || rc=1
    cat "$out"
    for i in "${!pids[@]}"; do
        after+=("$(rss_of "${pids[$i]}")")
        [[ -n ${after[$i]} && -n ${before[$i]} ]] || { worst=999; continue; }
        d=$(awk -v a="${after[$i]}" -v b="${before[$i]}" 'BEGIN { d = (a - b) * 100 / b; if (d < 0) d = -d; printf "%.1f", d }')
        awk -v d="$d" -v w="$worst" 'BEGIN { exit !(d > w) }' && worst=$d
        n=$((n + 1))
    done
    figure "$SCENARIO" "RSS per worker before -> after (kB)" \
        "$(for i in "${!pids[@]}"; do printf '%s->%s ' "${before[$i]}" "${after[$i]:-gone}"; done)" - INFO
    figure_le "$SCENARIO" "RSS drift over 100,000 requests (worst worker)" "$worst" 5 %
    return $rc
}

scenario()
{
    local rc=0
    vg_suites || rc=1
    asan_pool || rc=1
    rss_flat || rc=1
    return $rc
}
