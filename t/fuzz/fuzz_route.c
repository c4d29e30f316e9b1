/*
 * fuzz_route.c — libFuzzer entry for bff_route_match + bff_pattern_match on "METHOD PATH".
 * The body is fuzz_route_one() in targets.c, shared with the corpus replay
 * in `make check` (t/fuzz_replay.c). Built by `make fuzz` as t/fuzz_route.
 */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_route_one(data, size);
}
