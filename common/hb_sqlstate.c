/* hb_sqlstate.c — the "SSSSS text" convention of failure messages (see
 * hb_sqlstate.h). */
#include "hb_sqlstate.h"

#include <string.h>

bool
hb_sqlstate_split(const char *msg, size_t len, char state[6], const char **text,
                  size_t *textlen)
{
    bool coded = msg && len >= 5 && (len == 5 || msg[5] == ' ');
    for (size_t i = 0; coded && i < 5; i++)
        coded = (msg[i] >= '0' && msg[i] <= '9') || (msg[i] >= 'A' && msg[i] <= 'Z');
    const char *t = msg;
    size_t tl = msg ? len : 0;
    if (coded) {
        memcpy(state, msg, 5);
        state[5] = '\0';
        t = msg + (len > 5 ? 6 : 5);
        tl = len - (len > 5 ? 6 : 5);
    } else {
        memcpy(state, "XX000", 6);
    }
    if (text)
        *text = t;
    if (textlen)
        *textlen = tl;
    return coded;
}
