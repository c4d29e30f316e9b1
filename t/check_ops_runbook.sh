#!/usr/bin/env bash
# shellcheck disable=SC2016 # bash -c scripts take "$1"
#
# t/check_ops_runbook.sh — every ```bash runnable block of docs/RUNBOOK.md
# runs against the test stack (bash -euo pipefail, from the checkout, with
# BFF_URL, BFF_TOKEN, BFF_STATE, BFF_LOG_DIR, BFF_RUN_DIR, BFF_BACKUP_DIR
# and the stack's BFF_* settings) and must exit 0. Also: the runbook keeps
# the original's sections and thresholds, and no code block still calls
# manage.py, celery or docker-compose.
set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=ops_lib.sh
. "$(dirname "$0")/ops_lib.sh"
t_init
t_need_stack

RB=$T_SRC/docs/RUNBOOK.md
[[ -f $RB ]] || {
    t_not_ok "docs/RUNBOOK.md is missing"
    t_done
    exit 1
}

echo "# structure"
for s in "Arquitectura del Sistema" "Monitoreo y Métricas" "Health Checks" "Métricas Clave" \
    "Gestión de Cache" "Manejo de Incidentes" "Clasificación de Incidentes" \
    "Procedimientos de Respuesta" "Incidentes Comunes" "Operaciones de Rutina" \
    "Mantenimiento Diario" "Mantenimiento Semanal" "Mantenimiento Mensual" "Troubleshooting" \
    "Problemas de Conectividad" "Contactos y Escalación" "Escalación por Severidad"; do
    t_check "section: $s" grep -Eq "^#+ .*$s" "$RB"
done
for row in "Response Time \| < 200ms \| > 1000ms" "Error Rate \| < 1% \| > 5%" \
    "Database Connections \| < 80% \| > 95%" "Cache Hit Rate \| > 80% \| < 50%" \
    "Queue Length \| < 100 \| > 1000"; do
    t_check "threshold row: ${row//\\/}" grep -Eq "^\| $row \|" "$RB"
done
code=$(awk '/^ *```/ { inb = !inb; next } inb' "$RB")
t_check "no code block runs manage.py, celery or docker-compose" \
    bash -c '! grep -Eq "manage\.py|celery -A|docker-compose|python3? manage" <<<"$1"' _ "$code"

echo "# warm-up: enough cached reads that the 5-minute metrics window is normal"
T_TOKEN=$(t_token)
sfx=$$$RANDOM
pid=$(t_api POST /api/products/ "{\"sku\":\"RB-$sfx\",\"name\":\"runbook\"}" | jq -r .id)
if [[ $pid =~ ^[0-9]+$ ]]; then
    args=()
    for ((i = 0; i < 1500; i++)); do args+=(-o /dev/null "$BFF_TEST_HTTP_URL/api/products/$pid/"); done
    curl -s -H "Authorization: Bearer $T_TOKEN" "${args[@]}"
    t_ok "1500 cached GETs of product $pid"
else
    t_not_ok "could not create a product for the warm-up"
fi

echo "# runnable blocks"
export BFF_URL=$BFF_TEST_HTTP_URL BFF_TOKEN=$T_TOKEN BFF_STATE=$BFF_TEST_STATE \
    BFF_LOG_DIR=$BFF_TEST_STATE/log BFF_RUN_DIR=$BFF_TEST_STATE/run \
    BFF_BACKUP_DIR=$T_TMP/backups BFF_SERVICE_MANAGER=pidfile BFF_ENV_FILE=/dev/null \
    PATH=$T_BUILD/ctl:$PATH
mkdir -p "$BFF_BACKUP_DIR" "$T_TMP/blocks"
t_on_exit "t_psql 'DROP DATABASE IF EXISTS bff_restore_check' >/dev/null 2>&1"

# One file per block, named by the line its fence opens on.
awk -v dir="$T_TMP/blocks" '
    /^ *```bash runnable *$/ { n++; f = sprintf("%s/%03d-L%d.sh", dir, n, NR); inb = 1; next }
    inb && /^ *```/ { inb = 0; close(f); next }
    inb { sub(/^   /, ""); print > f }
' "$RB"
nblocks=$(find "$T_TMP/blocks" -name '*.sh' | wc -l)
t_check "docs/RUNBOOK.md has runnable blocks ($nblocks)" test "$nblocks" -ge 20
for f in "$T_TMP"/blocks/*.sh; do
    line=${f##*-L}
    line=${line%.sh}
    first=$(grep -v '^#' "$f" | grep -m1 . | cut -c1-70)
    rc=0
    (cd "$T_SRC" && timeout 180 bash -euo pipefail "$f") >"$T_TMP/block.out" 2>&1 || rc=$?
    if [[ $rc -eq 0 ]]; then
        t_ok "RUNBOOK.md:$line  $first"
    else
        t_not_ok "RUNBOOK.md:$line exits $rc: $first"
        sed 's/^/#      > /' "$f"
        tail -n 20 "$T_TMP/block.out" | sed 's/^/#      /'
    fi
done

t_done
