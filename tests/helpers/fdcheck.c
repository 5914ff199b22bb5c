/* Runs inside a container: prints each open file descriptor as "FD TARGET", one per line, so a test can
 * check that only 0, 1, 2 and the preserved ones reached the container process. The descriptor used to
 * read /proc/self/fd itself is left out. Also prints LISTEN_FDS/LISTEN_PID when set. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) {
        perror("fdcheck: /proc/self/fd");
        return 1;
    }
    int self = dirfd(dir);
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        int fd = atoi(de->d_name);
        if (fd == self)
            continue;
        char target[4096];
        ssize_t n = readlinkat(self, de->d_name, target, sizeof(target) - 1);
        if (n < 0)
            n = 0;
        target[n] = '\0';
        printf("%d %s\n", fd, target);
    }
    closedir(dir);
    const char *listen_fds = getenv("LISTEN_FDS");
    const char *listen_pid = getenv("LISTEN_PID");
    if (listen_fds)
        printf("LISTEN_FDS=%s\n", listen_fds);
    if (listen_pid)
        printf("LISTEN_PID=%s\n", listen_pid);
    return 0;
}
