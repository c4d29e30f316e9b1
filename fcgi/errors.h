/*
 * errors.h — the one table from error codes to HTTP statuses.
 */
#ifndef BFF_ERRORS_H
#define BFF_ERRORS_H

/* HTTP status for an error code (SPEC §4); 500 for an unknown code. */
int bff_status_for(const char *code);
/* Reason phrase for a status ("Not Found"), for the Status: header. */
const char *bff_status_text(int status);

#endif
