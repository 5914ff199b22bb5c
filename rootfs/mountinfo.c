/* One line of /proc/self/mountinfo (proc(5)), split in place. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
    char *out = s;

    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
            s[3] <= '7') {
            *out++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

bool brig_mountinfo_parse_line(char *line, struct brig_mountinfo_entry *e)
{
    char *fields[6], *save = NULL, *tok, *end;
    int n = 0;

    for (tok = strtok_r(line, " ", &save); tok && n < 6; tok = strtok_r(NULL, " ", &save))
        fields[n++] = tok;
    if (n < 6)
        return false;
    e->shared = false;
    /* The optional fields, up to the separator. */
    while (tok && strcmp(tok, "-") != 0) {
        if (strncmp(tok, "shared:", 7) == 0)
            e->shared = true;
        tok = strtok_r(NULL, " ", &save);
    }
    if (!tok)
        return false;
    e->fstype = strtok_r(NULL, " ", &save);
    if (!e->fstype || !strtok_r(NULL, " ", &save))
        return false;
    e->super_opts = strtok_r(NULL, " ", &save);
    if (!e->super_opts)
        return false;
    e->id = (int) strtol(fields[0], &end, 10);
    if (*end)
        return false;
    e->parent_id = (int) strtol(fields[1], &end, 10);
    if (*end)
        return false;
    e->root = fields[3];
    e->mount_point = fields[4];
    unescape_octal(e->root);
    unescape_octal(e->mount_point);
    return true;
}
