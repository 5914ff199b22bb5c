/* memtouch MIB [DIRTY_MIB_PER_S [check]]: holds MIB MiB of memory, every page written once, then keeps rewriting
 * DIRTY_MIB_PER_S of it each second (0: none) and prints a counter every second: a container with a known
 * memory size and dirtying rate, for checkpoint and migration tests and benchmarks. With `check` (and a rate
 * of 0) every page is read back before each count: a page that lost its value prints "corrupt page N" and
 * exits 3 (a restore that brought memory back wrong, or not at all). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
    size_t dirty = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    size_t size = mib << 20, page = (size_t) sysconf(_SC_PAGESIZE), at = 0;
    unsigned long tick = 0;
    int check = argc > 3 && !strcmp(argv[3], "check");
    unsigned char *mem = malloc(size ? size : 1);

    if (check && dirty) {
        fprintf(stderr, "memtouch: check needs a dirtying rate of 0\n");
        return 2;
    }
    if (!mem) {
        perror("memtouch: malloc");
        return 1;
    }
    for (size_t off = 0; off < size; off += page)
        mem[off] = (unsigned char) (off / page);
    printf("ready %zu MiB\n", mib);
    fflush(stdout);
    for (;;) {
        /* A tenth of the rate every 100 ms: the dirty set grows evenly, as a busy service's does. */
        for (int slice = 0; slice < 10; slice++) {
            size_t bytes = (dirty << 20) / 10;
            struct timespec tenth = {.tv_nsec = 100 * 1000 * 1000};
            for (size_t done = 0; size && done < bytes; done += page) {
                mem[at] ^= 1;
                at = (at + page) % size;
            }
            nanosleep(&tenth, NULL);
        }
        for (size_t off = 0; check && off < size; off += page) {
            if (mem[off] != (unsigned char) (off / page)) {
                printf("corrupt page %zu\n", off / page);
                return 3;
            }
        }
        printf("%lu\n", ++tick);
        fflush(stdout);
    }
}
