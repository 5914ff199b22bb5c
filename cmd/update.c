#include <getopt.h>
#include <string.h>

#include "cmd.h"
#include "../util/util.h"

static const char usage[] =
    "Usage: brig update [options] CONTAINER_ID\n"
    "\n"
    "Change the resource limits of a running container.\n"
    "\n"
    "Options:\n"
    "  -r, --resources FILE       linux.resources JSON to apply (- reads standard input); flags take precedence\n"
    "  --memory SIZE              memory limit (512m, 1g, -1 for none)\n"
    "  --memory-swap SIZE         memory+swap limit\n"
    "  --memory-reservation SIZE  memory soft limit\n"
    "  --kernel-memory SIZE       kernel memory limit (v1, where the kernel still has it)\n"
    "  --kernel-memory-tcp SIZE   kernel TCP buffer limit (v1)\n"
    "  --pids-limit N             maximum number of processes (-1 or 0: none)\n"
    "  --cpu-period US            CPU CFS period\n"
    "  --cpu-quota US             CPU CFS quota (-1: none)\n"
    "  --cpu-share N              CPU shares (v2: converted to cpu.weight)\n"
    "  --cpu-rt-period US         realtime period (v1)\n"
    "  --cpu-rt-runtime US        realtime runtime (v1)\n"
    "  --cpuset-cpus LIST         CPUs to run on (0-3,5)\n"
    "  --cpuset-mems LIST         memory nodes to use\n"
    "  --blkio-weight N           block IO weight (10-1000)\n";

enum {
    OPT_MEMORY = 256,
    OPT_MEMORY_SWAP,
    OPT_MEMORY_RESERVATION,
    OPT_KERNEL_MEMORY,
    OPT_KERNEL_MEMORY_TCP,
    OPT_PIDS_LIMIT,
    OPT_CPU_PERIOD,
    OPT_CPU_QUOTA,
    OPT_CPU_SHARE,
    OPT_CPU_RT_PERIOD,
    OPT_CPU_RT_RUNTIME,
    OPT_CPUSET_CPUS,
    OPT_CPUSET_MEMS,
    OPT_BLKIO_WEIGHT,
};

static int memory_flag(const struct brig_context *ctx, const char *name, const char *value, brig_opt_i64 *out)
{
    if (brig_parse_memory_size(value, &out->value) < 0)
        return cmd_usage_error(ctx, "update", "--%s: `%s` is not a size like 512m, 1g or -1", name, value);
    out->set = true;
    return 0;
}

static int int_flag(const struct brig_context *ctx, const char *name, const char *value, brig_opt_i64 *out)
{
    if (brig_parse_i64(value, &out->value) < 0)
        return cmd_usage_error(ctx, "update", "--%s: `%s` is not an integer", name, value);
    out->set = true;
    return 0;
}

static int uint_flag(const struct brig_context *ctx, const char *name, const char *value, brig_opt_u64 *out)
{
    if (brig_parse_u64(value, &out->value) < 0)
        return cmd_usage_error(ctx, "update", "--%s: `%s` is not a non-negative integer", name, value);
    out->set = true;
    return 0;
}

int cmd_update(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"resources", required_argument, NULL, 'r'},
        {"memory", required_argument, NULL, OPT_MEMORY},
        {"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
        {"memory-reservation", required_argument, NULL, OPT_MEMORY_RESERVATION},
        {"kernel-memory", required_argument, NULL, OPT_KERNEL_MEMORY},
        {"kernel-memory-tcp", required_argument, NULL, OPT_KERNEL_MEMORY_TCP},
        {"pids-limit", required_argument, NULL, OPT_PIDS_LIMIT},
        {"cpu-period", required_argument, NULL, OPT_CPU_PERIOD},
        {"cpu-quota", required_argument, NULL, OPT_CPU_QUOTA},
        {"cpu-share", required_argument, NULL, OPT_CPU_SHARE},
        {"cpu-rt-period", required_argument, NULL, OPT_CPU_RT_PERIOD},
        {"cpu-rt-runtime", required_argument, NULL, OPT_CPU_RT_RUNTIME},
        {"cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS},
        {"cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS},
        {"blkio-weight", required_argument, NULL, OPT_BLKIO_WEIGHT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_memory memory = {.limit.set = false};
    struct brig_cpu cpu = {.cpus = NULL};
    struct brig_block_io block_io = {.weight_device = NULL};
    struct brig_resources flags = {.memory = NULL};
    bool has_memory = false, has_cpu = false, has_block_io = false;
    const char *resources_path = NULL, *id = NULL;
    struct brig_err *err = NULL;
    int opt, bad = 0;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "r:h", options, NULL)) != -1) {
        const char *name = opt >= 256 ? options[opt - 256 + 1].name : NULL;
        switch (opt) {
        case 'r':
            resources_path = optarg;
            break;
        case OPT_MEMORY:
            bad = memory_flag(ctx, name, optarg, &memory.limit);
            has_memory = true;
            break;
        case OPT_MEMORY_SWAP:
            bad = memory_flag(ctx, name, optarg, &memory.swap);
            has_memory = true;
            break;
        case OPT_MEMORY_RESERVATION:
            bad = memory_flag(ctx, name, optarg, &memory.reservation);
            has_memory = true;
            break;
        case OPT_KERNEL_MEMORY:
            bad = memory_flag(ctx, name, optarg, &memory.kernel);
            has_memory = true;
            break;
        case OPT_KERNEL_MEMORY_TCP:
            bad = memory_flag(ctx, name, optarg, &memory.kernel_tcp);
            has_memory = true;
            break;
        case OPT_PIDS_LIMIT:
            bad = int_flag(ctx, name, optarg, &flags.pids_limit);
            break;
        case OPT_CPU_PERIOD:
            bad = uint_flag(ctx, name, optarg, &cpu.period);
            has_cpu = true;
            break;
        case OPT_CPU_QUOTA:
            bad = int_flag(ctx, name, optarg, &cpu.quota);
            has_cpu = true;
            break;
        case OPT_CPU_SHARE:
            bad = uint_flag(ctx, name, optarg, &cpu.shares);
            has_cpu = true;
            break;
        case OPT_CPU_RT_PERIOD:
            bad = uint_flag(ctx, name, optarg, &cpu.realtime_period);
            has_cpu = true;
            break;
        case OPT_CPU_RT_RUNTIME:
            bad = int_flag(ctx, name, optarg, &cpu.realtime_runtime);
            has_cpu = true;
            break;
        case OPT_CPUSET_CPUS:
            cpu.cpus = optarg;
            has_cpu = true;
            break;
        case OPT_CPUSET_MEMS:
            cpu.mems = optarg;
            has_cpu = true;
            break;
        case OPT_BLKIO_WEIGHT:
            bad = uint_flag(ctx, name, optarg, &block_io.weight);
            has_block_io = true;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "update", "unknown or incomplete option `%s`", argv[optind - 1]);
        }
        if (bad)
            return bad;
    }
    if (cmd_take_id(ctx, "update", argc, argv, optind, &id))
        return 1;
    flags.memory = has_memory ? &memory : NULL;
    flags.cpu = has_cpu ? &cpu : NULL;
    flags.block_io = has_block_io ? &block_io : NULL;
    if (brig_container_update(ctx, id, resources_path, &flags, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
