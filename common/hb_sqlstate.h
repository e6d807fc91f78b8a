/* hb_sqlstate.h — the "SSSSS text" convention of failure messages.
 *
 * Storage, the gateway and the client carry a failed statement's SQLSTATE
 * inside its message: five characters of [0-9A-Z], then one space and the
 * text (or nothing). hb_sqlstate_split is the one parser of that form;
 * everything that reads such a message goes through it.
 */
#ifndef HB_SQLSTATE_H
#define HB_SQLSTATE_H

#include <stdbool.h>
#include <stddef.h>

/* Splits msg (len bytes, need not be NUL-terminated). Returns true if it
 * starts with a SQLSTATE: then state holds it (NUL-terminated) and *text /
 * *textlen the rest after the one space. Otherwise returns false, state is
 * "XX000" and *text / *textlen are the whole msg. text and textlen may be
 * NULL. */
bool hb_sqlstate_split(const char *msg, size_t len, char state[6], const char **text,
                       size_t *textlen);

#endif
