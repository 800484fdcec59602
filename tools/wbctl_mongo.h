/*
 * wbctl_mongo.h: `wbctl restore --from-mongo` (tools/wbctl_mongo.c), which
 * wbctl_restore.c hands the command line to when --from-mongo is given.
 */
#ifndef WBCTL_MONGO_H
#define WBCTL_MONGO_H

/* argv[0] is "restore"; returns the exit code (wbctl.h). */
int wbctl_cmd_restore_mongo(int argc, char **argv);

#endif /* WBCTL_MONGO_H */
