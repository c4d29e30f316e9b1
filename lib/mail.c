/*
 * mail.c — see mail.h. One curl easy handle per message: alerts are rare.
 */
#include "mail.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"

int bff_mail_configured(const struct bff_config *cfg)
{
    return cfg->smtp_url != NULL && cfg->smtp_url[0] != '\0' && cfg->alert_email != NULL &&
           cfg->alert_email[0] != '\0';
}

struct upload {
    const char *p;
    size_t left;
};

static size_t feed(char *dst, size_t size, size_t nmemb, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nmemb;

    if (n > u->left)
        n = u->left;
    memcpy(dst, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

/* Append text with every line ending turned into CRLF (SMTP's). */
static void put_crlf(struct bff_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\r')
            continue;
        if (*s == '\n')
            bff_buf_putc(b, '\r');
        bff_buf_putc(b, *s);
    }
}

/* Header-safe copy: no CR/LF (no header injection through a subject). */
static void put_header(struct bff_buf *b, const char *name, const char *v)
{
    bff_buf_puts(b, name);
    bff_buf_puts(b, ": ");
    for (; *v; v++)
        bff_buf_putc(b, *v == '\r' || *v == '\n' ? ' ' : *v);
    bff_buf_puts(b, "\r\n");
}

int bff_mail_send(const struct bff_config *cfg, const char *to, const char *subject,
                  const char *body, struct bff_error *e)
{
    struct bff_buf msg = BFF_BUF_INIT, addr = BFF_BUF_INIT;
    struct curl_slist *rcpt = NULL;
    char date[64], errbuf[CURL_ERROR_SIZE] = "", mid[128], host[64] = "localhost";
    struct upload u;
    const char *p;
    time_t now = time(NULL);
    struct tm tm;
    CURLcode rc;
    CURL *c;
    int ret = 0;

    if (cfg->smtp_url == NULL || cfg->smtp_url[0] == '\0')
        return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "BFF_SMTP_URL is not set");
    if (to == NULL || to[0] == '\0')
        return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "no recipient (BFF_ALERT_EMAIL)");

    /* recipients: comma-separated, spaces trimmed */
    for (p = to; *p;) {
        size_t n = strcspn(p, ",");
        const char *s = p, *t = p + n;

        while (s < t && *s == ' ')
            s++;
        while (t > s && t[-1] == ' ')
            t--;
        if (t > s) {
            bff_buf_reset(&addr);
            bff_buf_putc(&addr, '<');
            bff_buf_append(&addr, s, (size_t)(t - s));
            bff_buf_putc(&addr, '>');
            rcpt = curl_slist_append(rcpt, bff_buf_cstr(&addr));
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (rcpt == NULL) {
        bff_buf_free(&addr);
        return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "no recipient in '%s'", to);
    }

    gethostname(host, sizeof host - 1);
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(mid, sizeof mid, "<%lld.%ld.bff@%s>", (long long)bff_now_us(), (long)getpid(), host);
    put_header(&msg, "Date", date);
    put_header(&msg, "From", "bff <" BFF_MAIL_FROM ">");
    put_header(&msg, "To", to);
    put_header(&msg, "Subject", subject);
    put_header(&msg, "Message-ID", mid);
    put_header(&msg, "MIME-Version", "1.0");
    put_header(&msg, "Content-Type", "text/plain; charset=utf-8");
    put_header(&msg, "Content-Transfer-Encoding", "8bit");
    bff_buf_puts(&msg, "\r\n");
    put_crlf(&msg, body);
    if (msg.len < 2 || strcmp(msg.data + msg.len - 2, "\r\n") != 0)
        bff_buf_puts(&msg, "\r\n");
    u.p = msg.data;
    u.left = msg.len;

    if ((c = curl_easy_init()) == NULL) {
        ret = bff_error_set(e, BFF_E_INTERNAL, NULL, "curl_easy_init failed");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, "<" BFF_MAIL_FROM ">");
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)BFF_MAIL_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        ret = bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "SMTP %s: %s", cfg->smtp_url,
                            errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_easy_cleanup(c);
out:
    curl_slist_free_all(rcpt);
    bff_buf_free(&msg);
    bff_buf_free(&addr);
    return ret;
}
