/*
 * node_internal.h: between node.c, node_fault.c, node_metrics.c and
 * node_rest.c (not for other modules).
 */
#ifndef WB_NODE_INTERNAL_H
#define WB_NODE_INTERNAL_H

#include "node.h"

/* node_metrics.c: registers the node's families and series into n->m. */
int node_metrics_init(node *n);

/* node_fault.c: the oplog's I/O table with the faults the environment asks
 * for (WB_FAULT_*), or NULL (the default table). Static; never freed. */
const wb_io *node_fault_io(void);

/* node_rest.c: the REST waiter table. */
int node_rest_init(node *n);
void node_rest_free(node *n);

#endif /* WB_NODE_INTERNAL_H */
