/* hb_rc.h — the one status code type every Hobbes module returns.
 *
 * Every fallible function returns hb_rc_t; HB_OK is zero so `if (rc)` reads
 * as "failed". Foreign errors (LevelDB errptr, zmq -1/errno, msgpack) are
 * converted at the call site into one of these plus one log line.
 * The numeric values travel on the wire (RESULT frames): append only.
 */
#ifndef HB_RC_H
#define HB_RC_H

typedef enum {
    HB_OK = 0,
    HB_NOMEM = 1,     /* allocation failed */
    HB_IO = 2,        /* disk or socket I/O failed */
    HB_CORRUPT = 3,   /* stored data fails validation */
    HB_NOTFOUND = 4,  /* key, procedure, file ... does not exist */
    HB_TIMEOUT = 5,   /* deadline passed */
    HB_PROTO = 6,     /* malformed or unexpected frame */
    HB_ABORTED = 7,   /* transaction logically aborted (deterministic) */
    HB_BUSY = 8,      /* resource temporarily unavailable, retry */
    HB_INVALID = 9,   /* bad argument from a caller or client */
    HB_CONFIG = 10,   /* bad configuration */
    HB_TOOBIG = 11,   /* a length exceeds a configured limit */
    HB_EXISTS = 12,   /* already exists */
    HB_INTERNAL = 13, /* invariant broken: a bug */
    HB_RC_COUNT_
} hb_rc_t;

/* Returns a static, human-readable name for rc ("ok", "aborted", ...).
 * Unknown values give "unknown". Never NULL; caller must not free. */
const char *hb_rc_str(hb_rc_t rc);

#endif
