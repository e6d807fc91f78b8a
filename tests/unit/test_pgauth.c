/* test_pgauth.c — unit tests of the wire protocol's password checks
 * (sqlfront/pgauth.h): SCRAM-SHA-256 against RFC 7677's example exchange
 * (user "user", password "pencil"), wrong proofs and malformed messages,
 * md5 against PostgreSQL's formula, cleartext against each stored form, and
 * the pg_users parser (passwords, md5 secrets, SCRAM verifiers, bad entries).
 */
#include <check.h>

#include "../hb_test.h"
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../../sqlfront/pgauth.h"

/* RFC 7677, section 3. */
#define S_SALT64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define S_CFIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define S_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define S_SFIRST                                                                         \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=" S_SALT64 ",i=4096"
#define S_CFINAL                                                                         \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"                       \
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define S_SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static sqlf_pguser_t
s_rfc_user(void)
{
    sqlf_pguser_t u;
    memset(&u, 0, sizeof u);
    strcpy(u.name, "user");
    uint8_t salt[32];
    int n = EVP_DecodeBlock(salt, (const unsigned char *)S_SALT64, 24) - 2;
    sqlf_pgauth_derive(&u, "pencil", salt, (size_t)n, 4096);
    return u;
}

START_TEST(test_pgauth_scram_rfc7677)
{
    sqlf_pguser_t u = s_rfc_user();
    sqlf_scram_t s;
    char out[512];
    int n =
        sqlf_scram_first(&s, &u, S_CFIRST, strlen(S_CFIRST), S_SNONCE, out, sizeof out);
    ck_assert_int_eq(n, (int)strlen(S_SFIRST));
    ck_assert_str_eq(out, S_SFIRST);
    n = sqlf_scram_final(&s, S_CFINAL, strlen(S_CFINAL), out, sizeof out);
    ck_assert_int_eq(n, (int)strlen(S_SFINAL));
    ck_assert_str_eq(out, S_SFINAL);
}
END_TEST

START_TEST(test_pgauth_scram_rejects)
{
    sqlf_pguser_t u = s_rfc_user();
    sqlf_scram_t s;
    char out[512], bad[256];
    /* A proof with one bit flipped. */
    snprintf(bad, sizeof bad, "%s", S_CFINAL);
    bad[strlen(bad) - 3] ^= 1;
    ck_assert_int_gt(
        sqlf_scram_first(&s, &u, S_CFIRST, strlen(S_CFIRST), S_SNONCE, out, sizeof out),
        0);
    ck_assert_int_eq(sqlf_scram_final(&s, bad, strlen(bad), out, sizeof out), -1);
    /* Another nonce than the one the server sent. */
    ck_assert_int_gt(
        sqlf_scram_first(&s, &u, S_CFIRST, strlen(S_CFIRST), "other", out, sizeof out),
        0);
    ck_assert_int_eq(sqlf_scram_final(&s, S_CFINAL, strlen(S_CFINAL), out, sizeof out),
                     -1);
    /* An unknown user gets a server-first-message and fails at the proof. */
    ck_assert_int_gt(
        sqlf_scram_first(&s, NULL, S_CFIRST, strlen(S_CFIRST), S_SNONCE, out, sizeof out),
        0);
    ck_assert_int_eq(sqlf_scram_final(&s, S_CFINAL, strlen(S_CFINAL), out, sizeof out),
                     -1);
    /* Malformed client-first-messages: channel binding, no nonce, junk. */
    const char *firsts[] = {"p=tls-server-end-point,,n=user,r=abc",
                            "n,,n=user",
                            "n,",
                            "",
                            "x,,n=user,r=abc",
                            "n,,n=user,r="};
    for (size_t i = 0; i < sizeof firsts / sizeof *firsts; i++)
        ck_assert_int_eq(sqlf_scram_first(&s, &u, firsts[i], strlen(firsts[i]), S_SNONCE,
                                          out, sizeof out),
                         -1);
    /* Malformed finals. */
    ck_assert_int_gt(
        sqlf_scram_first(&s, &u, S_CFIRST, strlen(S_CFIRST), S_SNONCE, out, sizeof out),
        0);
    /* c= must be base64 of the gs2 header sent ("n,," is biws; eSws is "y,,"). */
    const char *finals[] = {
        "c=biws",
        "p=abc",
        "c=biws,r=x,p=!!!!",
        "",
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=eXMs,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA"};
    for (size_t i = 0; i < sizeof finals / sizeof *finals; i++)
        ck_assert_int_eq(
            sqlf_scram_final(&s, finals[i], strlen(finals[i]), out, sizeof out), -1);
}
END_TEST

START_TEST(test_pgauth_md5_and_password)
{
    sqlf_pguser_t *users = NULL;
    uint32_t n = 0;
    char err[256];
    /* md5("hunter2bob") = a2cc14bc..., as PostgreSQL stores it. */
    ck_assert_int_eq(
        sqlf_pgauth_users("alice:secret bob:md5a2cc14bcc08bcb211f578153967abd6d", &users,
                          &n, err, sizeof err),
        HB_OK);
    ck_assert_uint_eq(n, 2);
    const uint8_t salt[4] = {1, 2, 3, 4};
    /* "md5" + md5(md5hex(password || user) || salt) */
    ck_assert(sqlf_pgauth_md5(&users[1], salt, "md52b402547e7beb0ed221f59c23c78c49a"));
    ck_assert(!sqlf_pgauth_md5(&users[1], salt, "md52b402547e7beb0ed221f59c23c78c49b"));
    ck_assert(!sqlf_pgauth_md5(&users[1], salt, "md5short"));
    ck_assert(sqlf_pgauth_password(&users[1], "hunter2"));
    ck_assert(!sqlf_pgauth_password(&users[1], "hunter3"));
    ck_assert(!users[1].has_scram); /* an md5 secret cannot answer SCRAM */
    /* A password serves every method. */
    ck_assert(users[0].has_scram && users[0].has_md5);
    ck_assert(sqlf_pgauth_password(&users[0], "secret"));
    ck_assert(!sqlf_pgauth_password(&users[0], "Secret"));
    ck_assert(!sqlf_pgauth_password(NULL, "secret"));
    free(users);
}
END_TEST

START_TEST(test_pgauth_users_parse)
{
    /* A verifier as PostgreSQL prints it, built from RFC 7677's keys. */
    sqlf_pguser_t rfc = s_rfc_user();
    char stored[64], server[64], spec[512];
    EVP_EncodeBlock((unsigned char *)stored, rfc.stored_key, 32);
    EVP_EncodeBlock((unsigned char *)server, rfc.server_key, 32);
    snprintf(spec, sizeof spec, "  user:SCRAM-SHA-256$4096:%s$%s:%s\tx:y  ", S_SALT64,
             stored, server);
    sqlf_pguser_t *users = NULL;
    uint32_t n = 0;
    char err[256];
    ck_assert_int_eq(sqlf_pgauth_users(spec, &users, &n, err, sizeof err), HB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(users[0].name, "user");
    ck_assert(memcmp(users[0].stored_key, rfc.stored_key, 32) == 0);
    ck_assert(sqlf_pgauth_password(&users[0], "pencil"));
    ck_assert(!sqlf_pgauth_password(&users[0], "pencil2"));
    sqlf_scram_t s;
    char out[512];
    ck_assert_int_gt(sqlf_scram_first(&s, &users[0], S_CFIRST, strlen(S_CFIRST), S_SNONCE,
                                      out, sizeof out),
                     0);
    ck_assert_int_gt(sqlf_scram_final(&s, S_CFINAL, strlen(S_CFINAL), out, sizeof out),
                     0);
    free(users);
    ck_assert_int_eq(sqlf_pgauth_users("", &users, &n, err, sizeof err), HB_OK);
    ck_assert_uint_eq(n, 0);
    free(users);
    const char *bad[] = {"nocolon", ":pw", "name:", "u:SCRAM-SHA-256$x:y$z:w",
                         "u:SCRAM-SHA-256$4096:c2FsdA==$AAAA:BBBB"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(sqlf_pgauth_users(bad[i], &users, &n, err, sizeof err),
                         HB_INVALID);
        ck_assert_ptr_null(users);
        ck_assert(strstr(err, "pg_users") != NULL);
    }
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("pgauth");
    TCase *tc = tcase_create("pgauth");
    tcase_add_test(tc, test_pgauth_scram_rfc7677);
    tcase_add_test(tc, test_pgauth_scram_rejects);
    tcase_add_test(tc, test_pgauth_md5_and_password);
    tcase_add_test(tc, test_pgauth_users_parse);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return hb_test_run(s_suite());
}
