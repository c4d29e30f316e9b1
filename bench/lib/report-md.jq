# bench/lib/report-md.jq — the report JSON of bench/run as Markdown.
def f1: if . == null then "–" else (. * 10 | round / 10 | tostring) end;
def f2: if . == null then "–" else (. * 100 | round / 100 | tostring) end;
def order: ["static", "fixed", "redis", "a", "pg", "b", "c", "pgb-random", "d", "pgb-hot", "e", "f"];
. as $r
| "# bench run \(.timestamp)",
  "",
  "Machine: \(.machine.cores) cores, \(.machine.cpu). \(.settings.connections) connections, "
  + "\(.settings.runs) run(s) × \(.settings.duration_s) s per item (median shown), "
  + "\(.settings.fcgi_procs_per_pool) FastCGI processes per pool, FastCGI keep-alive "
  + "\(.settings.fastcgi_keepalive), product JSON \(.settings.product_json_bytes) bytes, "
  + "data: \(.settings.data) (\(.settings.products) products, \(.settings.lots) lots), commit \(.settings.commit)"
  + (if .settings.uncommitted_app_files > 0 then " + \(.settings.uncommitted_app_files) uncommitted app file(s)" else "" end)
  + (if .settings.quick then " — QUICK run (1 short run per item: indicative only)" else "" end) + ".",
  "",
  "| item | what | req/s | p50 ms | p99 ms | errors | vs ceiling |",
  "|---|---|---:|---:|---:|---:|---|",
  (order[] as $k | $r.items[$k] // empty | . as $i
   | "| \($k) | \($i.what) | \($i.rps | f1) | \($i.p50_ms | f2) | \($i.p99_ms | f2) | \($i.errors)"
     + (if $i.errors > 0 then " (\($i.statuses | to_entries | map("\(.key)×\(.value)") | join(" ")))" else "" end)
     + " | " + (if $i.ratio then "\($i.ratio | f2) × \($i.ceiling)" else "" end) + " |"),
  "",
  "| target | source | measured | limit | met |",
  "|---|---|---:|---|---|",
  (.targets[] | "| \(.name) | \(.source) | \(.value | f2) | \(.op) \(.limit) | \(if .met == null then "not measured" elif .met then "yes" else "**NO**" end) |"),
  "",
  "**Verdict:** \(.verdict.text)."
