/* node.h — the hobbes-storage process: the shell binding of the executor.
 *
 * stor_shell_ops plugs the storage core into hb_shell_main: create opens the
 * engine in the node's data directory (<data_dir>/rRpP/storage) and builds
 * the executor over it; messages, timers and STATUS go to the executor.
 */
#ifndef STOR_NODE_H
#define STOR_NODE_H

#include "hb_shell.h"

/* Operations of hobbes-storage for hb_shell_main (static). */
extern const hb_shell_ops_t stor_shell_ops;

#endif
