/*
 * fuzz_query.c — libFuzzer entry for bff_query_parse + bff_query_validate against every route's query table.
 * The body is fuzz_query_one() in targets.c, shared with the corpus replay
 * in `make check` (t/fuzz_replay.c). Built by `make fuzz` as t/fuzz_query.
 */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_query_one(data, size);
}
