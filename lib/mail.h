/*
 * mail.h — plain-text e-mail through the SMTP server of BFF_SMTP_URL
 * (libcurl's smtp://), for the worker's alerts and reports.
 */
#ifndef BFF_MAIL_H
#define BFF_MAIL_H

#include "config.h"
#include "error.h"

/* Envelope and header sender of bff's e-mails. */
#define BFF_MAIL_FROM "bff@localhost"
/* The whole SMTP conversation gives up after this. */
#define BFF_MAIL_TIMEOUT_S 30

/* 1 when BFF_SMTP_URL and BFF_ALERT_EMAIL are both set. */
int bff_mail_configured(const struct bff_config *cfg);

/*
 * Send body (UTF-8 text, lines separated by \n) with subject to `to`, a
 * comma-separated list of addresses, through cfg->smtp_url. 0, or -1 with
 * e: "unavailable" when SMTP is not configured, cannot be reached or
 * refuses the message (e->msg says which, with curl's reason).
 */
int bff_mail_send(const struct bff_config *cfg, const char *to, const char *subject,
                  const char *body, struct bff_error *e);

#endif
