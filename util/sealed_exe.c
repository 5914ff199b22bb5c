/* brig running from a sealed copy of itself: the container's init and an exec'd process are clones of brig
 * (no re-exec into the container), so until they exec the user's program their /proc/PID/exe is brig's
 * binary, visible from the container. A process there that may open it (CAP_SYS_PTRACE passes the check that
 * PR_SET_DUMPABLE makes; a user namespace mapping the binary's owner needs none) keeps the fd and, once no
 * brig runs, reopens it for writing: the host's next `brig` is the container's code (runc's CVE-2019-5736).
 * A sealed memfd in its place is a copy that nobody can write, and each brig has its own. */
#include "util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define BRIG_EXE_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

static bool running_sealed(int exe)
{
    int seals = fcntl(exe, F_GET_SEALS);

    return seals >= 0 && (seals & BRIG_EXE_SEALS) == BRIG_EXE_SEALS;
}

static int sealed_copy(int exe, struct brig_err **err)
{
    cleanup_close int copy = -1;
    struct stat st;
    off_t done = 0;

    /* MFD_EXEC: a vm.memfd_noexec=1 host makes memfds non-executable unless asked; kernels before 6.3 do not
     * know the flag (EINVAL) and execute any memfd. */
    copy = memfd_create("brig", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (copy < 0 && errno == EINVAL)
        copy = memfd_create("brig", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (copy < 0)
        return brig_err_sys(err, "sealed copy of brig's binary: memfd");
    if (fstat(exe, &st) < 0)
        return brig_err_sys(err, "sealed copy of brig's binary: stat");
    while (done < st.st_size) {
        ssize_t n = sendfile(copy, exe, NULL, (size_t) (st.st_size - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return brig_err_msg(err, n < 0 ? errno : EIO, "sealed copy of brig's binary: copy: %s",
                                n < 0 ? strerror(errno) : "short read");
        done += n;
    }
    if (fcntl(copy, F_ADD_SEALS, BRIG_EXE_SEALS) < 0)
        return brig_err_sys(err, "sealed copy of brig's binary: seal");
    return steal_fd(copy);
}

int brig_run_sealed_copy(char **argv, struct brig_err **err)
{
    cleanup_close int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    cleanup_close int copy = -1;

    if (exe < 0)
        return brig_err_sys(err, "sealed copy of brig's binary: open `/proc/self/exe`");
    if (running_sealed(exe)) {
        /* execveat() named us after the fd's number. */
        prctl(PR_SET_NAME, "brig", 0, 0, 0);
        return 0;
    }
    copy = sealed_copy(exe, err);
    if (copy < 0)
        return copy;
    close(steal_fd(exe));
    /* The copy is close-on-exec: the new image holds none of our fds, only the caller's. */
    syscall(SYS_execveat, copy, "", argv, environ, AT_EMPTY_PATH);
    return brig_err_sys(err, "sealed copy of brig's binary: exec");
}
