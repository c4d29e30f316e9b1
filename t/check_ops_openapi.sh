#!/usr/bin/env bash
#
# t/check_ops_openapi.sh — docs/openapi.yaml lists exactly the routes of
# fcgi/routes.c (the source of truth, parsed at test time: a route added
# to the table without its documentation fails here), each /api/ operation
# names the permission the table requires, and the document is sound
# OpenAPI 3.0: every $ref resolves, operationIds are unique, every path
# parameter is declared, every operation has responses.
# Needs no stack.
set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=ops_lib.sh
. "$(dirname "$0")/ops_lib.sh"
t_init

PY=/usr/bin/python3
if ! "$PY" -c 'import yaml' 2>/dev/null; then
    t_not_ok "$PY cannot import yaml (apt-get install python3-yaml)"
    t_done
    exit 1
fi

# The checker prints "ok - ..." / "FAIL - ..." lines; t_ok/t_not_ok count them.
while IFS= read -r line; do
    case $line in
    'ok - '*) t_ok "${line#ok - }" ;;
    'FAIL - '*) t_not_ok "${line#FAIL - }" ;;
    *) t_note "$line" ;;
    esac
done < <("$PY" - "$T_SRC/fcgi/routes.c" "$T_SRC/docs/openapi.yaml" <<'PY' 2>&1 || echo "FAIL - the checker crashed"
import re
import sys

import yaml

routes_c, spec_path = sys.argv[1], sys.argv[2]
src = open(routes_c, encoding="utf-8").read()
# Permission shorthands: #define P_R "products.read"
macros = dict(re.findall(r'#define\s+(\w+)\s+"([^"]+)"', src))
table = src[src.index("bff_routes[]"):]
table = table[:table.index("};")]
table = re.sub(r"/\*.*?\*/", "", table, flags=re.S)
routes = {}
for m in re.finditer(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*("[^"]*"|\w+)', table):
    method, pattern, _handler, perm = m.groups()
    perm = perm.strip('"') if perm.startswith('"') else macros.get(perm, perm)
    routes[(method, pattern)] = None if perm == "NULL" else perm

def ok(cond, msg):
    print(("ok - " if cond else "FAIL - ") + msg)
    return cond

ok(len(routes) > 10, "fcgi/routes.c: %d routes parsed" % len(routes))
try:
    spec = yaml.safe_load(open(spec_path, encoding="utf-8"))
except yaml.YAMLError as e:
    ok(False, "docs/openapi.yaml is not valid YAML: %s" % e)
    sys.exit(0)
ok(str(spec.get("openapi", "")).startswith("3.0"), "openapi: 3.0.x (%s)" % spec.get("openapi"))
ok(bool(spec.get("info", {}).get("title")) and bool(spec.get("info", {}).get("version")),
   "info has a title and a version")

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ops = {}
for path, item in (spec.get("paths") or {}).items():
    for method, op in item.items():
        if method in METHODS:
            ops[(method.upper(), path)] = (op, item)

doc = set(ops)
code = set(routes)
missing = sorted(code - doc)
extra = sorted(doc - code)
for m, p in missing:
    print("     missing from openapi.yaml: %s %s" % (m, p))
for m, p in extra:
    print("     not in fcgi/routes.c: %s %s" % (m, p))
ok(not missing, "every route of fcgi/routes.c is in openapi.yaml (%d)" % len(code))
ok(not extra, "openapi.yaml has no operation that fcgi/routes.c lacks (%d)" % len(doc))

# Permissions and public routes agree with the table.
bad = []
for key in sorted(code & doc):
    op, _ = ops[key]
    want = routes[key]
    public = op.get("security") == []
    if want is None and not public:
        bad.append("%s %s is public in routes.c: needs security: []" % key)
    if want is not None and (public or op.get("x-bff-permission") != want):
        bad.append("%s %s needs x-bff-permission: %s (has %s)" % (key + (want, op.get("x-bff-permission"))))
for b in bad:
    print("     " + b)
ok(not bad, "each operation's permission (x-bff-permission / security: []) matches routes.c")

# $refs resolve.
def walk(node, refs):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                refs.append(v)
            else:
                walk(v, refs)
    elif isinstance(node, list):
        for v in node:
            walk(v, refs)
refs = []
walk(spec, refs)
unresolved = []
for r in sorted(set(refs)):
    node = spec
    if not r.startswith("#/"):
        unresolved.append(r)
        continue
    for part in r[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            unresolved.append(r)
            break
        node = node[part]
for r in unresolved:
    print("     unresolved $ref: " + r)
ok(refs and not unresolved, "all %d distinct $refs resolve" % len(set(refs)))

ids = [op.get("operationId") for op, _ in ops.values()]
ok(all(ids) and len(ids) == len(set(ids)), "every operation has a unique operationId")
ok(all(op.get("responses") for op, _ in ops.values()), "every operation has responses")

def resolve(p):
    if "$ref" in p:
        node = spec
        for part in p["$ref"][2:].split("/"):
            node = node.get(part, {})
        return node
    return p
undeclared = []
for (m, path), (op, item) in sorted(ops.items()):
    declared = {resolve(p).get("name") for p in (item.get("parameters") or []) + (op.get("parameters") or [])
                if resolve(p).get("in") == "path"}
    for name in re.findall(r"\{(\w+)\}", path):
        if name not in declared:
            undeclared.append("%s %s: {%s}" % (m, path, name))
for u in undeclared:
    print("     undeclared path parameter: " + u)
ok(not undeclared, "every path parameter is declared")

err = spec.get("components", {}).get("schemas", {}).get("Error", {})
props = err.get("properties", {}).get("error", {}).get("properties", {})
ok(all(k in props for k in ("code", "message", "field", "request_id")),
   "the Error schema has code, message, field, request_id")
PY
)

t_done
