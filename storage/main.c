/* main.c — hobbes-storage: one LevelDB shard and its executor.
 *
 * Everything is in the core (executor.c, engine.c, procs.c) and its shell
 * binding (node.c); see hb_shell.h for the command line.
 */
#include "node.h"

int
main(int argc, char **argv)
{
    return hb_shell_main(argc, argv, &stor_shell_ops);
}
