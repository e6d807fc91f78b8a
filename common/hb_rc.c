/* hb_rc.c — names for hb_rc_t. */
#include "hb_rc.h"

const char *
hb_rc_str(hb_rc_t rc)
{
    static const char *names[HB_RC_COUNT_] = {
        [HB_OK] = "ok",
        [HB_NOMEM] = "out of memory",
        [HB_IO] = "i/o error",
        [HB_CORRUPT] = "corrupt data",
        [HB_NOTFOUND] = "not found",
        [HB_TIMEOUT] = "timeout",
        [HB_PROTO] = "protocol error",
        [HB_ABORTED] = "aborted",
        [HB_BUSY] = "busy",
        [HB_INVALID] = "invalid argument",
        [HB_CONFIG] = "configuration error",
        [HB_TOOBIG] = "too big",
        [HB_EXISTS] = "already exists",
        [HB_INTERNAL] = "internal error",
    };
    if ((unsigned)rc >= HB_RC_COUNT_)
        return "unknown";
    return names[rc];
}
