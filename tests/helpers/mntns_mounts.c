/* Runs on the host: prints every mount of the mount namespace given by path (/proc/PID/ns/mnt) as
 * "FSTYPE MAJOR:MINOR MOUNTPOINT", one per line, from listmount(2) and statmount(2). Unlike a process's
 * /proc/PID/mountinfo, which shows only the mounts below that process's root, this lists the namespace's
 * whole mount table, mounts hidden under a chroot included. Exits 2 when the kernel lacks these calls
 * (before 6.11 they cannot name another namespace), for the test to skip. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_statmount
#define SYS_statmount 457
#endif
#ifndef SYS_listmount
#define SYS_listmount 458
#endif
#define NS_GET_MNTNS_ID_ _IOR(0xb7, 0x5, uint64_t)
#define LSMT_ROOT_ 0xffffffffffffffffULL
#define STATMOUNT_SB_BASIC_ 0x1U
#define STATMOUNT_MNT_POINT_ 0x10U
#define STATMOUNT_FS_TYPE_ 0x20U

/* The kernel's struct mnt_id_req with mnt_ns_id (version 1) and struct statmount, as of 6.11. */
struct mnt_req {
    uint32_t size;
    uint32_t spare;
    uint64_t mnt_id;
    uint64_t param;
    uint64_t mnt_ns_id;
};

struct statmount_ {
    uint32_t size;
    uint32_t mnt_opts;
    uint64_t mask;
    uint32_t sb_dev_major;
    uint32_t sb_dev_minor;
    uint64_t sb_magic;
    uint32_t sb_flags;
    uint32_t fs_type;
    uint64_t mnt_id;
    uint64_t mnt_parent_id;
    uint32_t mnt_id_old;
    uint32_t mnt_parent_id_old;
    uint64_t mnt_attr;
    uint64_t mnt_propagation;
    uint64_t mnt_peer_group;
    uint64_t mnt_master;
    uint64_t propagate_from;
    uint32_t mnt_root;
    uint32_t mnt_point;
    uint64_t mnt_ns_id;
    uint64_t spare2[49];
    char str[];
};

int main(int argc, char **argv)
{
    static union {
        struct statmount_ sm;
        char buf[64 * 1024];
    } out;
    uint64_t ns_id, ids[512], last = 0;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: mntns_mounts /proc/PID/ns/mnt\n");
        return 1;
    }
    fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ioctl(fd, NS_GET_MNTNS_ID_, &ns_id) < 0) {
        perror(argv[1]);
        return errno == ENOTTY ? 2 : 1;
    }
    for (;;) {
        struct mnt_req req = {.size = sizeof(req), .mnt_id = LSMT_ROOT_, .param = last, .mnt_ns_id = ns_id};
        long n = syscall(SYS_listmount, &req, ids, sizeof(ids) / sizeof(ids[0]), 0);

        if (n < 0) {
            perror("listmount");
            return errno == ENOSYS || errno == EINVAL ? 2 : 1;
        }
        if (n == 0)
            return 0;
        for (long i = 0; i < n; i++) {
            struct mnt_req sreq = {.size = sizeof(sreq), .mnt_id = ids[i],
                                   .param = STATMOUNT_SB_BASIC_ | STATMOUNT_MNT_POINT_ | STATMOUNT_FS_TYPE_,
                                   .mnt_ns_id = ns_id};
            if (syscall(SYS_statmount, &sreq, &out.sm, sizeof(out), 0) < 0) {
                perror("statmount");
                return 1;
            }
            printf("%s %u:%u %s\n", out.sm.str + out.sm.fs_type, out.sm.sb_dev_major, out.sm.sb_dev_minor,
                   out.sm.str + out.sm.mnt_point);
        }
        last = ids[n - 1];
    }
}
