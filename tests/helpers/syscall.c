/* Runs inside a container: makes the system call numbered argv[1], with up to five integer arguments, and
 * prints "ret N" or "errno N (text)", so a test sees what a seccomp filter answers for any number, a number
 * that libc has no wrapper for or the kernel does not know included. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long args[5] = {0};
    long nr, ret;

    if (argc < 2 || argc > 7) {
        fprintf(stderr, "usage: syscall NR [ARG...]\n");
        return 2;
    }
    nr = strtol(argv[1], NULL, 0);
    for (int i = 2; i < argc; i++)
        args[i - 2] = strtol(argv[i], NULL, 0);
    errno = 0;
    ret = syscall(nr, args[0], args[1], args[2], args[3], args[4]);
    if (ret < 0)
        printf("errno %d (%s)\n", errno, strerror(errno));
    else
        printf("ret %ld\n", ret);
    return 0;
}
