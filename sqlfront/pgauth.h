/* pgauth.h — password checks of the PostgreSQL wire protocol: cleartext,
 * md5 and SCRAM-SHA-256 (RFC 5802 / RFC 7677, without channel binding).
 *
 * Users come from the config's `pg_users`: space-separated `name:secret`,
 * where a secret is a password, `md5` + md5(password || name) in hex, or a
 * SCRAM verifier as PostgreSQL stores it
 * (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64).
 * A password is turned into both other forms when loaded, so every method
 * works with it; an md5 secret serves md5 only, a verifier SCRAM and
 * cleartext.
 */
#ifndef SQLF_PGAUTH_H
#define SQLF_PGAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"

#define SQLF_PG_NAME_MAX 64

typedef struct {
    char name[SQLF_PG_NAME_MAX];
    bool has_md5;
    char md5[33]; /* md5(password || name), hex */
    bool has_scram;
    uint32_t iterations;
    uint8_t salt[64];
    size_t saltlen;
    uint8_t stored_key[32];
    uint8_t server_key[32];
} sqlf_pguser_t;

/* Parses spec into *out (caller frees with free(); *n entries). Returns
 * HB_OK, or HB_INVALID with err naming the bad entry. */
hb_rc_t sqlf_pgauth_users(const char *spec, sqlf_pguser_t **out, uint32_t *n, char *err,
                          size_t errlen);

/* Fills u's SCRAM verifier from password with the given salt and
 * iteration count (and its md5 secret). */
void sqlf_pgauth_derive(sqlf_pguser_t *u, const char *password, const uint8_t *salt,
                        size_t saltlen, uint32_t iterations);

/* Cleartext: whether password matches u's verifier or md5 secret. */
bool sqlf_pgauth_password(const sqlf_pguser_t *u, const char *password);

/* md5: whether resp ("md5" + 32 hex) answers salt for u. */
bool sqlf_pgauth_md5(const sqlf_pguser_t *u, const uint8_t salt[4], const char *resp);

/* One SCRAM exchange. */
typedef struct {
    const sqlf_pguser_t *u; /* NULL: unknown user (the exchange fails at the end) */
    char client_first_bare[512];
    char server_first[640];
    char nonce[384]; /* client nonce + server nonce */
    char gs2[64];    /* the gs2 header sent ("n,," ...), echoed as c= */
} sqlf_scram_t;

/* Takes the client-first-message (len bytes) and writes the
 * server-first-message (NUL-terminated) to out. server_nonce is printable
 * base64. Returns its length, or -1 for a malformed message or a channel
 * binding request. */
int sqlf_scram_first(sqlf_scram_t *s, const sqlf_pguser_t *u, const char *msg, size_t len,
                     const char *server_nonce, char *out, size_t cap);

/* Takes the client-final-message and writes the server-final-message
 * ("v=...") to out. Returns its length, or -1 when the proof is wrong or
 * the message malformed. */
int sqlf_scram_final(sqlf_scram_t *s, const char *msg, size_t len, char *out, size_t cap);

#endif
