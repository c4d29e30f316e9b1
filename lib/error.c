#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void bff_error_clear(struct bff_error *e)
{
    memset(e, 0, sizeof *e);
}

int bff_error_set(struct bff_error *e, const char *code, const char *field,
                  const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return -1;
    snprintf(e->code, sizeof e->code, "%s", code ? code : BFF_E_INTERNAL);
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}
