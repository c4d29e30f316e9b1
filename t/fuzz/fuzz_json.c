/*
 * fuzz_json.c — libFuzzer entry for bff_json_parse + bff_json_validate against every route's body table.
 * The body is fuzz_json_one() in targets.c, shared with the corpus replay
 * in `make check` (t/fuzz_replay.c). Built by `make fuzz` as t/fuzz_json.
 */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_json_one(data, size);
}
