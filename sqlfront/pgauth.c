/* pgauth.c — cleartext, md5 and SCRAM-SHA-256 checks (pgauth.h), on
 * OpenSSL's libcrypto. */
#include "pgauth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SCRAM_ITER 4096

static void
s_md5_hex(const void *data, size_t len, char out[33])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    EVP_Digest(data, len, d, &dl, EVP_md5(), NULL);
    for (unsigned i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void
s_hmac(const uint8_t *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &n);
}

/* Base64 of n bytes into out (cap >= 4 * (n + 2) / 3 + 1). */
static void
s_b64(const uint8_t *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Decodes base64 text (len bytes) into out (cap bytes); returns the byte
 * count or -1. */
static int
s_unb64(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len == 0 || len % 4 || len / 4 * 3 > cap)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -1;
    if (in[len - 1] == '=')
        n--;
    if (in[len - 2] == '=')
        n--;
    return n;
}

void
sqlf_pgauth_derive(sqlf_pguser_t *u, const char *password, const uint8_t *salt,
                   size_t saltlen, uint32_t iterations)
{
    uint8_t salted[32], ck[32];
    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)saltlen,
                      (int)iterations, EVP_sha256(), 32, salted);
    s_hmac(salted, 32, "Client Key", 10, ck);
    SHA256(ck, 32, u->stored_key);
    s_hmac(salted, 32, "Server Key", 10, u->server_key);
    memcpy(u->salt, salt, saltlen);
    u->saltlen = saltlen;
    u->iterations = iterations;
    u->has_scram = true;
    char buf[256];
    snprintf(buf, sizeof buf, "%s%s", password, u->name);
    s_md5_hex(buf, strlen(buf), u->md5);
    u->has_md5 = true;
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(buf, sizeof buf);
}

/* Parses "SCRAM-SHA-256$iter:salt$stored:server" into u. */
static bool
s_parse_verifier(sqlf_pguser_t *u, const char *v)
{
    const char *p = v + strlen("SCRAM-SHA-256$");
    char *end;
    long iter = strtol(p, &end, 10);
    if (end == p || *end != ':' || iter < 1 || iter > 10000000)
        return false;
    const char *salt = end + 1, *d1 = strchr(salt, '$');
    if (!d1)
        return false;
    const char *stored = d1 + 1, *c2 = strchr(stored, ':');
    if (!c2)
        return false;
    const char *server = c2 + 1;
    uint8_t tmp[64];
    int sl = s_unb64(salt, (size_t)(d1 - salt), u->salt, sizeof u->salt);
    if (sl <= 0 || s_unb64(stored, (size_t)(c2 - stored), tmp, sizeof tmp) != 32)
        return false;
    memcpy(u->stored_key, tmp, 32);
    if (s_unb64(server, strlen(server), tmp, sizeof tmp) != 32)
        return false;
    memcpy(u->server_key, tmp, 32);
    u->saltlen = (size_t)sl;
    u->iterations = (uint32_t)iter;
    u->has_scram = true;
    return true;
}

hb_rc_t
sqlf_pgauth_users(const char *spec, sqlf_pguser_t **out, uint32_t *n, char *err,
                  size_t errlen)
{
    *out = NULL;
    *n = 0;
    uint32_t cap = 0;
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " \t");
        char entry[512];
        if (len >= sizeof entry) {
            snprintf(err, errlen, "pg_users: an entry is longer than %zu bytes",
                     sizeof entry);
            goto fail;
        }
        memcpy(entry, p, len);
        entry[len] = '\0';
        p += len;
        char *colon = strchr(entry, ':');
        if (!colon || colon == entry || (size_t)(colon - entry) >= SQLF_PG_NAME_MAX ||
            !colon[1]) {
            snprintf(err, errlen, "pg_users: '%.64s' is not name:secret", entry);
            goto fail;
        }
        *colon = '\0';
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            sqlf_pguser_t *nu = realloc(*out, cap * sizeof **out);
            if (!nu)
                goto fail;
            *out = nu;
        }
        sqlf_pguser_t *u = &(*out)[(*n)++];
        memset(u, 0, sizeof *u);
        snprintf(u->name, sizeof u->name, "%s", entry);
        const char *secret = colon + 1;
        if (strncmp(secret, "SCRAM-SHA-256$", 14) == 0) {
            if (!s_parse_verifier(u, secret)) {
                snprintf(err, errlen,
                         "pg_users: user %s: malformed SCRAM-SHA-256 verifier", u->name);
                goto fail;
            }
        } else if (strncmp(secret, "md5", 3) == 0 && strlen(secret) == 35 &&
                   strspn(secret + 3, "0123456789abcdef") == 32) {
            memcpy(u->md5, secret + 3, 33);
            u->has_md5 = true;
        } else {
            uint8_t salt[16];
            if (RAND_bytes(salt, sizeof salt) != 1) {
                snprintf(err, errlen, "pg_users: no random bytes for a salt");
                goto fail;
            }
            sqlf_pgauth_derive(u, secret, salt, sizeof salt, S_SCRAM_ITER);
        }
        OPENSSL_cleanse(entry, sizeof entry);
    }
    return HB_OK;
fail:
    free(*out);
    *out = NULL;
    *n = 0;
    return HB_INVALID;
}

bool
sqlf_pgauth_password(const sqlf_pguser_t *u, const char *password)
{
    if (!u)
        return false;
    if (u->has_scram) {
        sqlf_pguser_t t;
        memset(&t, 0, sizeof t);
        memcpy(t.name, u->name, sizeof t.name);
        sqlf_pgauth_derive(&t, password, u->salt, u->saltlen, u->iterations);
        return CRYPTO_memcmp(t.stored_key, u->stored_key, 32) == 0;
    }
    if (u->has_md5) {
        char buf[256], hex[33];
        snprintf(buf, sizeof buf, "%s%s", password, u->name);
        s_md5_hex(buf, strlen(buf), hex);
        OPENSSL_cleanse(buf, sizeof buf);
        return CRYPTO_memcmp(hex, u->md5, 32) == 0;
    }
    return false;
}

bool
sqlf_pgauth_md5(const sqlf_pguser_t *u, const uint8_t salt[4], const char *resp)
{
    if (!u || !u->has_md5 || strlen(resp) != 35 || strncmp(resp, "md5", 3) != 0)
        return false;
    uint8_t buf[36];
    memcpy(buf, u->md5, 32);
    memcpy(buf + 32, salt, 4);
    char hex[33];
    s_md5_hex(buf, sizeof buf, hex);
    return CRYPTO_memcmp(hex, resp + 3, 32) == 0;
}

/* Finds attribute `a=` among the comma-separated attributes of msg; writes
 * its value (NUL-terminated) to out. */
static bool
s_attr(const char *msg, char a, char *out, size_t cap)
{
    const char *p = msg;
    while (p && *p) {
        if (p[0] == a && p[1] == '=') {
            size_t n = strcspn(p + 2, ",");
            if (n >= cap)
                return false;
            memcpy(out, p + 2, n);
            out[n] = '\0';
            return true;
        }
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return false;
}

int
sqlf_scram_first(sqlf_scram_t *s, const sqlf_pguser_t *u, const char *msg, size_t len,
                 const char *server_nonce, char *out, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->u = (u && u->has_scram) ? u : NULL;
    char m[512];
    if (len == 0 || len >= sizeof m || memchr(msg, '\0', len))
        return -1;
    memcpy(m, msg, len);
    m[len] = '\0';
    /* gs2 header: "n,," or "y,," (no channel binding here), optional authzid. */
    if ((m[0] != 'n' && m[0] != 'y') || m[1] != ',')
        return -1;
    const char *c2 = strchr(m + 2, ',');
    if (!c2)
        return -1;
    const char *bare = c2 + 1;
    if ((size_t)(bare - m) >= sizeof s->gs2)
        return -1;
    memcpy(s->gs2, m, (size_t)(bare - m));
    s->gs2[bare - m] = '\0';
    char cnonce[256];
    if (!s_attr(bare, 'r', cnonce, sizeof cnonce) || !cnonce[0] ||
        strlen(cnonce) + strlen(server_nonce) >= sizeof s->nonce)
        return -1;
    snprintf(s->client_first_bare, sizeof s->client_first_bare, "%s", bare);
    snprintf(s->nonce, sizeof s->nonce, "%s%s", cnonce, server_nonce);
    char salt64[128];
    uint8_t fake[16];
    const uint8_t *salt = s->u ? s->u->salt : fake;
    size_t saltlen = s->u ? s->u->saltlen : sizeof fake;
    if (!s->u) /* an unknown user gets a salt too, and fails at the proof */
        memset(fake, 0x5a, sizeof fake);
    s_b64(salt, saltlen, salt64);
    int n = snprintf(s->server_first, sizeof s->server_first, "r=%s,s=%s,i=%u", s->nonce,
                     salt64, s->u ? s->u->iterations : S_SCRAM_ITER);
    if (n < 0 || (size_t)n >= sizeof s->server_first || (size_t)n >= cap)
        return -1;
    memcpy(out, s->server_first, (size_t)n + 1);
    return n;
}

int
sqlf_scram_final(sqlf_scram_t *s, const char *msg, size_t len, char *out, size_t cap)
{
    char m[1024];
    if (len == 0 || len >= sizeof m || memchr(msg, '\0', len))
        return -1;
    memcpy(m, msg, len);
    m[len] = '\0';
    char nonce[384], cb[64], proof64[128];
    char gs2_64[96];
    s_b64((const uint8_t *)s->gs2, strlen(s->gs2), gs2_64);
    if (!s_attr(m, 'r', nonce, sizeof nonce) || strcmp(nonce, s->nonce) != 0 ||
        !s_attr(m, 'c', cb, sizeof cb) || strcmp(cb, gs2_64) != 0)
        return -1; /* c= must echo the gs2 header of the first message */
    const char *pp = strstr(m, ",p=");
    if (!pp || !s_attr(pp + 1, 'p', proof64, sizeof proof64))
        return -1;
    uint8_t proof[64];
    if (s_unb64(proof64, strlen(proof64), proof, sizeof proof) != 32 || !s->u)
        return -1;
    char auth[2048];
    int an = snprintf(auth, sizeof auth, "%s,%s,%.*s", s->client_first_bare,
                      s->server_first, (int)(pp - m), m);
    if (an < 0 || (size_t)an >= sizeof auth)
        return -1;
    uint8_t csig[32], ckey[32], stored[32], ssig[32];
    s_hmac(s->u->stored_key, 32, auth, (size_t)an, csig);
    for (int i = 0; i < 32; i++)
        ckey[i] = proof[i] ^ csig[i];
    SHA256(ckey, 32, stored);
    if (CRYPTO_memcmp(stored, s->u->stored_key, 32) != 0)
        return -1;
    s_hmac(s->u->server_key, 32, auth, (size_t)an, ssig);
    char sig64[64];
    s_b64(ssig, 32, sig64);
    int n = snprintf(out, cap, "v=%s", sig64);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}
