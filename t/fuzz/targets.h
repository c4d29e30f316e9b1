/*
 * targets.h — the fuzz targets, one plain function per request-layer parser.
 *
 * Each fuzz_<x>_one() takes one input, runs it through the real entry
 * points (lib/json.c, fcgi/query.c, fcgi/routes.c) against the real route
 * table, checks invariants that a wrong implementation would break, and
 * returns 0. A broken invariant prints what broke and aborts, so libFuzzer
 * (t/fuzz/fuzz_<x>.c) and the corpus replay in `make check`
 * (t/fuzz_replay.c) both see it as a crash. data is borrowed; nothing is
 * kept between calls but one arena, reset after each input.
 */
#ifndef BFF_FUZZ_TARGETS_H
#define BFF_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* JSON body: bff_json_parse (depth 32), then bff_json_validate against
 * every route's body table. */
int fuzz_json_one(const uint8_t *data, size_t size);
/* Query string: bff_query_parse, then bff_query_validate against every
 * route's query table. */
int fuzz_query_one(const uint8_t *data, size_t size);
/* "METHOD PATH" (no space: GET and the whole input as the path):
 * bff_route_match, and bff_pattern_match against every pattern. */
int fuzz_route_one(const uint8_t *data, size_t size);

/* Release the arena the targets share (the replay calls it at exit). */
void fuzz_targets_free(void);

/* libFuzzer's entry point, defined by each t/fuzz/fuzz_<x>.c. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
