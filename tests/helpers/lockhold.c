/* lockhold FILE: takes flock(LOCK_EX) on FILE, prints "locked" and holds it for ever.
 * lockhold --try FILE: prints "free" (and exits 0) when FILE can be locked now, else "held" (exit 1).
 * busybox-static has no flock applet; the checkpoint tests need a held lock inside a container. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int try_only = argc > 2 && !strcmp(argv[1], "--try");
    const char *path = argv[argc - 1];
    int fd = open(path, O_RDWR | O_CREAT, 0644);

    if (argc < 2 || fd < 0) {
        perror("lockhold");
        return 2;
    }
    if (try_only) {
        int ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
        puts(ok ? "free" : "held");
        return ok ? 0 : 1;
    }
    if (flock(fd, LOCK_EX) < 0) {
        perror("lockhold: flock");
        return 2;
    }
    puts("locked");
    fflush(stdout);
    for (;;)
        pause();
}
