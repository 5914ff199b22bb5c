/* The config.json walk, split by section; each reads one object of the yajl tree into arena memory. */
#ifndef BRIG_SPEC_PARSE_H
#define BRIG_SPEC_PARSE_H

#include "json.h"

int spec_parse_process(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_process *process);
int spec_parse_linux(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_linux *linux_cfg);
int spec_parse_seccomp(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_seccomp *seccomp);
int spec_parse_resources(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_resources *res);
/* uidMappings / gidMappings, used by linux and by mounts. */
int spec_parse_id_mappings(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key,
                           struct brig_id_mapping **out, size_t *n);

/* "pid" -> BRIG_NS_PID ...; -EINVAL for an unknown name. */
int spec_ns_type_from_name(const char *name, enum brig_ns_type *type);

#endif
