# bench/lib/report.jq — bench/run's results (one object per measurement,
# slurped) → the report: per item the median of each figure over its runs,
# errors summed, ratios against the ceilings, the targets and a verdict.
def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r3: if . == null then null else (. * 1000 | round) / 1000 end;

(group_by(.name) | map({
    key: .[0].name,
    value: {
        what: .[0].what, ceiling: .[0].ceiling, runs: length,
        rps: (map(.rps) | median | . * 10 | round / 10),
        p50_ms: (map(.p50_ms) | median | r3),
        p99_ms: (map(.p99_ms) | median | r3),
        rps_runs: map(.rps | round),
        requests: (map(.requests) | add),
        errors: (map(.non2xx + .socket_errors + .timeouts) | add),
        statuses: (map(.statuses | to_entries) | add | group_by(.key)
                   | map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
        sample: (map(.sample) | map(select(. != "")) | .[0] // "")
    }}) | from_entries) as $items
| ($items | with_entries(.value += (
      if .value.ceiling != "" and $items[.value.ceiling] != null and $items[.value.ceiling].rps > 0
      then {ratio: (.value.rps / $items[.value.ceiling].rps | r3)} else {} end))) as $items
| def ratio(a; b): if $items[a] != null and $items[b] != null and $items[b].rps > 0
      then ($items[a].rps / $items[b].rps | r3) else null end;
  def target(name; value; op; limit; source):
      {name: name, value: value, op: op, limit: limit, source: source,
       met: (if value == null then null elif op == ">=" then value >= limit else value < limit end)};
  [
    target("(a) cached product / FastCGI+Redis GET"; ratio("a"; "redis"); ">="; 0.85; "issue 8"),
    target("(b) uncached product / FastCGI+PostgreSQL SELECT"; ratio("b"; "pg"); ">="; 0.85; "issue 8"),
    target("(d) POST /api/orders/ / pgbench FEFO (random)"; ratio("d"; "pgb-random"); ">="; 0.70; "issue 8"),
    target("(a) cached product / nginx static file"; ratio("a"; "static"); ">="; 0.50; "SPEC §9"),
    target("(d) POST /api/orders/ / pgbench FEFO (random)"; ratio("d"; "pgb-random"); ">="; 0.50; "SPEC §9"),
    (("a", "b", "c", "d") as $s | target("(\($s)) p99 ms at \($conns) connections";
        $items[$s].p99_ms; "<"; 50; "issue 8, SPEC §9"))
  ] as $targets
| ($items | to_entries | map(.value.errors) | add) as $errors
| ($targets | map(select(.met == false))) as $missed
| ($targets | map(select(.met == null))) as $unmeasured
| {
    timestamp: $stamp,
    machine: {cores: $cores, cpu: $cpu},
    settings: {connections: $conns, runs: $runs, duration_s: $duration, fcgi_procs_per_pool: $procs,
               fastcgi_keepalive: $keepalive, product_json_bytes: $bytes, data: $seeder,
               products: $nprod, lots: $nlots, quick: ($quick == 1), commit: $commit,
               uncommitted_app_files: ($dirty | tonumber)},
    items: $items,
    targets: $targets,
    pg_stat_statements: ($pgss[0] // []),
    verdict: {
        ok: ($errors == 0 and ($missed | length) == 0 and ($unmeasured | length) == 0),
        errors: $errors,
        text: ((if $errors > 0 then "ERRORS: \($errors) failed requests (\($items | to_entries
                    | map(select(.value.errors > 0) | "\(.key): \(.value.errors)") | join(", "))); "
                else "no errors; " end)
              + (if ($missed | length) == 0 and ($unmeasured | length) == 0 then "all targets met"
                 else "\($missed | length) target(s) missed"
                      + (if ($missed | length) > 0 then " (" + ($missed | map("\(.name) \(.source): \(.value) vs \(.op) \(.limit)") | join("; ")) + ")" else "" end)
                      + (if ($unmeasured | length) > 0 then ", \($unmeasured | length) not measured" else "" end)
                 end))
    }
  }
