/*
 * h_auth.c — POST /api/auth/token/ (SPEC §4 Auth). Public; nginx rate-
 * limits it per client address. Unknown users and wrong passwords get the
 * same answer after the same argon2id work.
 */
#include "auth.h"
#include "handlers.h"
#include "reply.h"

const struct bff_field bff_login_fields[] = {
    {"username", BFF_F_STRING, BFF_F_REQUIRED, 1, 150, 0, NULL},
    {"password", BFF_F_STRING, BFF_F_REQUIRED, 1, 1024, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

int h_auth_token(struct bff_req *rq, struct bff_resp *rs)
{
    char token[BFF_TOKEN_LEN + 1], expires[40];
    struct bff_error e;

    bff_error_clear(&e);
    if (bff_auth_login(&rq->ctx->db, bff_member_text(rq, "username"),
                       bff_member_text(rq, "password"), token, expires, &e) != 0) {
        rs->www_authenticate = 1;
        return bff_resp_error(rq, rs, &e);
    }
    bff_jw_obj(&rs->w);
    bff_jw_kstr(&rs->w, "token", token);
    bff_jw_kstr(&rs->w, "expires_at", expires);
    bff_jw_end(&rs->w);
    return 200;
}
