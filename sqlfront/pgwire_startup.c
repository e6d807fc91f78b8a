/* pgwire_startup.c — start-up and authentication of a wire connection.
 *
 * A connection's first packet is a start-up packet (user, database,
 * options), or an SSLRequest / GSSENCRequest, refused with 'N' (the
 * gateway speaks no TLS), or a CancelRequest, which has nothing to cancel.
 * Then the method of pg_auth: trust, cleartext password, md5 or
 * SCRAM-SHA-256, checked against pg_users by pgauth.c (which holds the
 * credential checks and has no I/O, so that its unit test needs no
 * socket). Success sends AuthenticationOk, the ParameterStatus set and
 * BackendKeyData, and the connection is ready (SQLF_PG_READY).
 *
 * Entry points: sqlf_pg_startup (the packet), sqlf_pg_auth_msg (a 'p'
 * message while authenticating).
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "pgwire_int.h"

static void
s_param_status(sqlf_pg_conn_t *c, const char *k, const char *v)
{
    size_t at = sqlf_pg_begin(&c->out, 'S');
    sqlf_pg_putz(&c->out, k);
    sqlf_pg_putz(&c->out, v);
    sqlf_pg_end(&c->out, at);
}

static const sqlf_pguser_t *
s_user(const sqlf_pg_t *self, const char *name)
{
    for (uint32_t i = 0; i < self->nusers; i++)
        if (strcmp(self->users[i].name, name) == 0)
            return &self->users[i];
    return NULL;
}

static void
s_auth_ok(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    size_t at = sqlf_pg_begin(&c->out, 'R');
    sqlf_pg_put32(&c->out, 0);
    sqlf_pg_end(&c->out, at);
    s_param_status(c, "server_version", "15.0");
    s_param_status(c, "server_encoding", "UTF8");
    s_param_status(c, "client_encoding", "UTF8");
    s_param_status(c, "DateStyle", "ISO, MDY");
    s_param_status(c, "integer_datetimes", "on");
    s_param_status(c, "standard_conforming_strings", "on");
    s_param_status(c, "TimeZone", "UTC");
    s_param_status(c, "IntervalStyle", "postgres");
    s_param_status(c, "application_name", c->app);
    s_param_status(c, "is_superuser", "on");
    s_param_status(c, "session_authorization", c->user);
    s_param_status(c, "default_transaction_read_only", "off");
    s_param_status(c, "in_hot_standby", "off");
    at = sqlf_pg_begin(&c->out, 'K');
    sqlf_pg_put32(&c->out, (uint32_t)c->key_pid);
    sqlf_pg_put32(&c->out, (uint32_t)c->key_secret);
    sqlf_pg_end(&c->out, at);
    c->phase = SQLF_PG_READY;
    c->session = true;
    c->txn = 'I';
    sqlf_pg_ready(c);
    (void)self;
}

static void
s_auth_fail(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    SQLF_PG_COUNT(self, c_auth_fail);
    sqlf_pg_error(c, "FATAL", "28P01", "password authentication failed for user \"%s\"",
                  c->user);
    c->phase = SQLF_PG_CLOSING;
}

/* Reads the start-up packet's "name\0value\0 ... \0" into c; the
 * protocol options (_pq_.*) it does not know go to unknown (at most 8).
 * Returns false for a layout that is not that. */
static bool
s_startup_params(sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len,
                 char unknown[8][SQLF_PG_NAME_MAX], uint32_t *nunknown)
{
    const char *q = (const char *)p + 4, *end = (const char *)p + len;
    *nunknown = 0;
    snprintf(c->app, sizeof c->app, "%s", "");
    while (q < end && *q) {
        const char *k = q;
        const char *kz = memchr(k, 0, (size_t)(end - k));
        if (!kz || kz + 1 >= end)
            return false;
        const char *v = kz + 1;
        const char *vz = memchr(v, 0, (size_t)(end - v));
        if (!vz)
            return false;
        if (strcmp(k, "user") == 0)
            snprintf(c->user, sizeof c->user, "%s", v);
        else if (strcmp(k, "database") == 0)
            snprintf(c->db, sizeof c->db, "%s", v);
        else if (strcmp(k, "application_name") == 0)
            snprintf(c->app, sizeof c->app, "%s", v);
        else if (strncmp(k, "_pq_.", 5) == 0 && *nunknown < 8)
            snprintf(unknown[(*nunknown)++], SQLF_PG_NAME_MAX, "%s", k);
        q = vz + 1;
    }
    return q < end && *q == 0;
}

/* Asks for the credentials of pg_auth's method (trust: none). */
static void
s_auth_request(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    size_t at;
    switch (self->cfg.pg_auth) {
    case HB_PG_AUTH_TRUST:
        s_auth_ok(self, c);
        return;
    case HB_PG_AUTH_PASSWORD:
        at = sqlf_pg_begin(&c->out, 'R');
        sqlf_pg_put32(&c->out, 3);
        sqlf_pg_end(&c->out, at);
        return;
    case HB_PG_AUTH_MD5:
        if (RAND_bytes(c->salt, 4) != 1)
            memset(c->salt, 7, 4);
        at = sqlf_pg_begin(&c->out, 'R');
        sqlf_pg_put32(&c->out, 5);
        sqlf_pg_put(&c->out, c->salt, 4);
        sqlf_pg_end(&c->out, at);
        return;
    default:
        at = sqlf_pg_begin(&c->out, 'R');
        sqlf_pg_put32(&c->out, 10);
        sqlf_pg_putz(&c->out, "SCRAM-SHA-256");
        sqlf_pg_put8(&c->out, 0);
        sqlf_pg_end(&c->out, at);
        return;
    }
}

/* An SSLRequest or GSSENCRequest (len bytes): refused with 'N', after
 * which the client goes on unencrypted. */
static void
s_encryption_request(sqlf_pg_t *self, sqlf_pg_conn_t *c, uint32_t len)
{
    if (len != 4) {
        SQLF_PG_COUNT(self, c_proto_err);
        sqlf_pg_error(c, "FATAL", "08P01", "invalid length of an encryption request");
        c->phase = SQLF_PG_CLOSING;
        return;
    }
    if (c->in.len > c->in.off) {
        /* Bytes sent before our answer would be read as if encrypted. */
        SQLF_PG_COUNT(self, c_proto_err);
        sqlf_pg_error(c, "FATAL", "08P01", "received unencrypted data after SSL request");
        c->phase = SQLF_PG_CLOSING;
        return;
    }
    sqlf_pg_put8(&c->out, 'N');
}

void
sqlf_pg_startup(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len)
{
    uint32_t code = sqlf_pg_get32(p);
    if (code == 80877103 || code == 80877104) { /* SSLRequest, GSSENCRequest */
        s_encryption_request(self, c, len);
        return;
    }
    if (code == 80877102) { /* CancelRequest */
        SQLF_PG_COUNT(self, c_cancels);
        /* Nothing to interrupt: a statement the cluster has sequenced runs
         * to its end on every replica. The request is acknowledged by
         * closing, as PostgreSQL does. */
        c->phase = SQLF_PG_CLOSING;
        return;
    }
    if (code >> 16 != 3) {
        SQLF_PG_COUNT(self, c_proto_err);
        sqlf_pg_error(c, "FATAL", "0A000",
                      "unsupported frontend protocol %u.%u: server supports 3.0",
                      code >> 16, code & 0xffff);
        c->phase = SQLF_PG_CLOSING;
        return;
    }
    char unknown[8][SQLF_PG_NAME_MAX];
    uint32_t nunknown;
    if (!s_startup_params(c, p, len, unknown, &nunknown)) {
        SQLF_PG_COUNT(self, c_proto_err);
        sqlf_pg_error(c, "FATAL", "08P01",
                      "invalid startup packet layout: expected terminator as last byte");
        c->phase = SQLF_PG_CLOSING;
        return;
    }
    if (!c->user[0]) {
        sqlf_pg_error(c, "FATAL", "28000",
                      "no PostgreSQL user name specified in startup packet");
        c->phase = SQLF_PG_CLOSING;
        return;
    }
    if (!c->db[0])
        snprintf(c->db, sizeof c->db, "%s", c->user);
    if (c->reject) {
        SQLF_PG_COUNT(self, c_rejected);
        sqlf_pg_error(c, "FATAL", "53300", "sorry, too many clients already");
        c->phase = SQLF_PG_CLOSING;
        return;
    }
    if ((code & 0xffff) != 0 || nunknown) { /* NegotiateProtocolVersion */
        size_t at = sqlf_pg_begin(&c->out, 'v');
        sqlf_pg_put32(&c->out, 0);
        sqlf_pg_put32(&c->out, nunknown);
        for (uint32_t i = 0; i < nunknown; i++)
            sqlf_pg_putz(&c->out, unknown[i]);
        sqlf_pg_end(&c->out, at);
    }
    c->pu = s_user(self, c->user);
    c->phase = SQLF_PG_AUTH;
    s_auth_request(self, c);
}

/* A 'p' message during authentication. */
void
sqlf_pg_auth_msg(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len)
{
    int method = self->cfg.pg_auth;
    if (method == HB_PG_AUTH_PASSWORD || method == HB_PG_AUTH_MD5) {
        if (len == 0 || p[len - 1] != 0 || memchr(p, 0, len) != p + len - 1) {
            s_auth_fail(self, c);
            return;
        }
        bool ok = method == HB_PG_AUTH_PASSWORD
                      ? sqlf_pgauth_password(c->pu, (const char *)p)
                      : sqlf_pgauth_md5(c->pu, c->salt, (const char *)p);
        if (ok)
            s_auth_ok(self, c);
        else
            s_auth_fail(self, c);
        return;
    }
    char out[1024];
    if (c->sasl_step == 0) {
        /* SASLInitialResponse: mechanism\0, int32 length, data */
        const uint8_t *z = memchr(p, 0, len);
        if (!z || strcmp((const char *)p, "SCRAM-SHA-256") != 0 ||
            (size_t)(z - p) + 5 > len) {
            s_auth_fail(self, c);
            return;
        }
        uint32_t dl = sqlf_pg_get32(z + 1);
        const uint8_t *d = z + 5;
        if (dl != len - (uint32_t)(d - p)) {
            s_auth_fail(self, c);
            return;
        }
        uint8_t rnd[18];
        char nonce[32];
        if (RAND_bytes(rnd, sizeof rnd) != 1) {
            s_auth_fail(self, c);
            return;
        }
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (size_t i = 0; i < sizeof rnd; i++)
            nonce[i] = b64[rnd[i] & 63];
        nonce[sizeof rnd] = '\0';
        int n = sqlf_scram_first(&c->scram, c->pu, (const char *)d, dl, nonce, out,
                                 sizeof out);
        if (n < 0) {
            s_auth_fail(self, c);
            return;
        }
        size_t at = sqlf_pg_begin(&c->out, 'R');
        sqlf_pg_put32(&c->out, 11);
        sqlf_pg_put(&c->out, out, (size_t)n);
        sqlf_pg_end(&c->out, at);
        c->sasl_step = 1;
        return;
    }
    int n = sqlf_scram_final(&c->scram, (const char *)p, len, out, sizeof out);
    if (n < 0) {
        s_auth_fail(self, c);
        return;
    }
    size_t at = sqlf_pg_begin(&c->out, 'R');
    sqlf_pg_put32(&c->out, 12);
    sqlf_pg_put(&c->out, out, (size_t)n);
    sqlf_pg_end(&c->out, at);
    s_auth_ok(self, c);
}
