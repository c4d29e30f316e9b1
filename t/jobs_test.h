/*
 * jobs_test.h — what the job-queue suites share: the table the test-only
 * job kinds of t/bff-worker-test (worker_test.c) write their effects to.
 * Created by the suites, under an advisory lock so two suites starting
 * at once do not trip over each other; never by a migration.
 */
#ifndef BFF_JOBS_TEST_H
#define BFF_JOBS_TEST_H

#define T_EFFECTS_DDL                                                                       \
    "BEGIN; SET LOCAL client_min_messages = warning;"                                      \
    " SELECT pg_advisory_xact_lock(727001);"                                          \
    " CREATE TABLE IF NOT EXISTS job_test_effects (job_id bigint NOT NULL,"                 \
    "   kind text NOT NULL, attempt integer NOT NULL, worker text,"                         \
    "   at timestamptz NOT NULL DEFAULT clock_timestamp());"                                \
    " COMMIT"

#endif
