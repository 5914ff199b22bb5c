/* Runs inside a container: the CVE-2022-0492 attack. New user, mount and cgroup namespaces (root in them
 * without any capability of the host's), a cgroup v1 hierarchy mounted at DIR, then release_agent opened
 * for writing and written with what it holds (empty, the test checks it is so on the host): a kernel or
 * runtime letting it through changes nothing. Prints each step reached: "mounted", "opened", "wrote", or
 * why it stopped.
 *
 *   cgroup1_agent CONTROLLER DIR */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* unshare */
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t) strlen(text) ? 0 : -1;
}

int main(int argc, char **argv)
{
    char map[64], path[4096];
    unsigned uid = getuid(), gid = getgid();
    int fd;

    if (argc != 3) {
        fprintf(stderr, "usage: cgroup1_agent CONTROLLER DIR\n");
        return 2;
    }
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) < 0) {
        printf("unshare: %s\n", strerror(errno));
        return 0;
    }
    snprintf(map, sizeof(map), "0 %u 1", uid);
    write_file("/proc/self/setgroups", "deny");
    if (write_file("/proc/self/uid_map", map) < 0)
        printf("uid_map: %s\n", strerror(errno));
    snprintf(map, sizeof(map), "0 %u 1", gid);
    if (write_file("/proc/self/gid_map", map) < 0)
        printf("gid_map: %s\n", strerror(errno));
    if (mount("cgroup", argv[2], "cgroup", 0, argv[1]) < 0) {
        printf("mount: %s\n", strerror(errno));
        return 0;
    }
    printf("mounted\n");
    snprintf(path, sizeof(path), "%s/release_agent", argv[2]);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("open: %s\n", strerror(errno));
        return 0;
    }
    printf("opened\n");
    if (write(fd, "\n", 1) == 1)
        printf("wrote\n");
    else
        printf("write: %s\n", strerror(errno));
    close(fd);
    return 0;
}
