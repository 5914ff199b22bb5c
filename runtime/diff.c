/* `diff`: a container's changes, from its overlay root's upper directory. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "../util/util.h"

struct change_list {
    char **lines; /* "A /path" */
    size_t n;
};

static int collect(const struct brig_change *c, void *data)
{
    struct change_list *list = data;
    char **grown = realloc(list->lines, (list->n + 1) * sizeof(char *));

    if (!grown)
        return -ENOMEM;
    list->lines = grown;
    if (asprintf(&list->lines[list->n], "%c %s", (char) c->kind, c->path) < 0)
        return -ENOMEM;
    list->n++;
    return 0;
}

/* By path: the kind letter and its space come first in every line. */
static int compare_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *) a + 2, *(char *const *) b + 2);
}

struct diff_args {
    const struct brig_state *state;
    int out_fd;
};

/* Walks, sorts, then prints: nothing is printed unless the whole walk worked. */
static int print_changes(void *data, struct brig_err **err)
{
    const struct diff_args *a = data;
    struct change_list list = {0};
    cleanup_free char *text = NULL;
    size_t len = 0;
    FILE *out;
    int ret;

    ret = brig_overlay_changes(a->state->overlay_upper, a->state->overlay_lowers, a->state->n_overlay_lowers,
                               collect, &list, err);
    if (ret == 0 && list.n > 1)
        qsort(list.lines, list.n, sizeof(char *), compare_lines);
    out = ret == 0 ? open_memstream(&text, &len) : NULL;
    if (ret == 0 && !out)
        ret = brig_err_sys(err, "diff");
    if (out) {
        int w;
        for (size_t i = 0; i < list.n; i++)
            fprintf(out, "%s\n", list.lines[i]);
        fclose(out);
        w = len ? brig_write_all(a->out_fd, text, len) : 0;
        if (w < 0)
            ret = brig_err_set(err, -w, "write");
    }
    for (size_t i = 0; i < list.n; i++)
        free(list.lines[i]);
    free(list.lines);
    return ret;
}

int brig_container_diff(const struct brig_context *ctx, const char *id, int out_fd, struct brig_err **err)
{
    struct brig_container_dir dir;
    cleanup_state struct brig_state *state = NULL;
    struct diff_args args = {.out_fd = out_fd};
    int ret;

    ret = brig_store_open(ctx, id, false, &dir, &state, err);
    if (ret < 0)
        return ret;
    brig_store_close(&dir);
    if (!state)
        return brig_err_msg(err, EAGAIN, "container `%s` is still being created", id);
    if (!state->n_overlay_lowers)
        return brig_err_msg(err, EINVAL, "container `%s` has no overlay root (created without --layer or --upper)",
                            id);
    if (!state->overlay_upper)
        return 0; /* root.readonly: an overlay without an upper changes nothing */
    args.state = state;
    ret = print_changes(&args, err);
    /* Rootless: directories the container made as its other ids. */
    if (ret == -EACCES && geteuid() != 0) {
        cleanup_err struct brig_err *again = NULL;
        if (brig_as_container_root(state, print_changes, &args, &again) == 0) {
            brig_err_free(err);
            ret = 0;
        }
    }
    return ret < 0 ? brig_err_wrap(err, ret, "diff `%s`", id) : 0;
}
