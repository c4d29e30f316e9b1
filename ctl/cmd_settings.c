/*
 * cmd_settings.c — `bffctl diffsettings` (manage.py diffsettings).
 *
 * Reads the settings table of lib/config.c (bff_setting), so a setting
 * added there shows up here without a change to this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"

#define MASK "********"

/*
 * Print one line per setting, in table order: NAME=value, the value being
 * the environment's when the variable is set (even to ""), else the
 * default. A line whose value differs from the default ends with "  ###",
 * Django's marker. A secret that is not empty prints as ******** (still
 * marked when it differs). By default (and with --all, Django's flag) every
 * setting is printed; --changed prints only the marked ones. Returns 0, or
 * 2 on a bad argument.
 */
int cmd_diffsettings(int argc, char **argv)
{
    struct bff_setting s;
    int changed_only = 0, i;
    size_t k;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--changed") == 0)
            changed_only = 1;
        else if (strcmp(argv[i], "--all") == 0)
            changed_only = 0;
        else
            return bffctl_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
    }
    for (k = 0; bff_setting(k, &s) != NULL; k++) {
        const char *env = getenv(s.name);
        const char *v = env ? env : s.def;
        int differs = strcmp(v, s.def) != 0;

        if (changed_only && !differs)
            continue;
        printf("%s=%s%s\n", s.name, s.secret && v[0] != '\0' ? MASK : v, differs ? "  ###" : "");
    }
    return 0;
}
