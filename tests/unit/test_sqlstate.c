/* test_sqlstate.c — unit tests of the two small common helpers that replace
 * hand-written code across the tree: hb_sqlstate_split (common/hb_sqlstate.c,
 * the one parser of "SSSSS text" failure messages) and HB_GROW /
 * HB_GROW_ZERO (common/hb_alloc.h, the one array doubling).
 *
 * The split is checked on the shapes messages really take (a coded message,
 * a bare code, the gateway's own "XXCAT" code) and on everything that must
 * not pass as a code (lower case, too short, no space after the five
 * characters, NULL), always with explicit lengths and on buffers that are
 * not NUL-terminated, as messages cut out of a frame are.
 */
#include <check.h>

#include "../hb_test.h"
#include <stdint.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_sqlstate.h"

/* Splits the NUL-terminated s and checks the outcome: whether it is coded,
 * the state, and the text (compared as bytes, its length included). */
static void
s_expect(const char *s, bool coded, const char *state, const char *text)
{
    char st[6];
    const char *t = NULL;
    size_t tl = 99;
    ck_assert_msg(hb_sqlstate_split(s, strlen(s), st, &t, &tl) == coded, "coded(\"%s\")",
                  s);
    ck_assert_str_eq(st, state);
    ck_assert_uint_eq(tl, strlen(text));
    ck_assert_msg(memcmp(t, text, tl) == 0, "text of \"%s\" is \"%.*s\"", s, (int)tl, t);
}

START_TEST(test_sqlstate_coded)
{
    s_expect("22012 division by zero", true, "22012", "division by zero");
    s_expect("XXCAT catalog changed", true, "XXCAT", "catalog changed");
    s_expect("42P01 relation \"t\" does not exist", true, "42P01",
             "relation \"t\" does not exist");
    /* Only the one space after the code is eaten. */
    s_expect("23505  two spaces", true, "23505", " two spaces");
    s_expect("22012 ", true, "22012", "");
}
END_TEST

START_TEST(test_sqlstate_bare_code)
{
    /* Five characters alone are a code with an empty text that starts
     * just after them. */
    const char *msg = "42P01";
    char st[6];
    const char *t = NULL;
    size_t tl = 99;
    ck_assert(hb_sqlstate_split(msg, 5, st, &t, &tl));
    ck_assert_str_eq(st, "42P01");
    ck_assert_ptr_eq(t, msg + 5);
    ck_assert_uint_eq(tl, 0);
}
END_TEST

START_TEST(test_sqlstate_not_coded)
{
    /* Anything else: XX000 and the whole message as the text. */
    s_expect("abcde lower case", false, "XX000", "abcde lower case");
    s_expect("22o12 letter o", false, "XX000", "22o12 letter o");
    s_expect("2201", false, "XX000", "2201");
    s_expect("22012division", false, "XX000", "22012division");
    s_expect("22012:colon", false, "XX000", "22012:colon");
    s_expect("22 12 spaced", false, "XX000", "22 12 spaced");
    s_expect(" 22012 leading space", false, "XX000", " 22012 leading space");
    s_expect("", false, "XX000", "");
    s_expect("connection refused", false, "XX000", "connection refused");
}
END_TEST

START_TEST(test_sqlstate_null_and_optional_out)
{
    char st[6] = "zzzzz";
    const char *t = "x";
    size_t tl = 99;
    ck_assert(!hb_sqlstate_split(NULL, 0, st, &t, &tl));
    ck_assert_str_eq(st, "XX000");
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(tl, 0);
    /* A NULL message never reads its claimed length. */
    ck_assert(!hb_sqlstate_split(NULL, 12, st, &t, &tl));
    ck_assert_uint_eq(tl, 0);
    /* text and textlen may be NULL. */
    ck_assert(hb_sqlstate_split("40001 retry", 11, st, NULL, NULL));
    ck_assert_str_eq(st, "40001");
}
END_TEST

START_TEST(test_sqlstate_unterminated)
{
    /* Bytes cut out of a frame: no NUL anywhere, the length rules. */
    const char frame[8] = {'2', '3', '5', '0', '5', ' ', 'a', 'b'};
    char st[6];
    const char *t;
    size_t tl;
    ck_assert(hb_sqlstate_split(frame, sizeof frame, st, &t, &tl));
    ck_assert_str_eq(st, "23505");
    ck_assert_ptr_eq(t, frame + 6);
    ck_assert_uint_eq(tl, 2);
    /* The same bytes cut after the code: a bare code. */
    ck_assert(hb_sqlstate_split(frame, 5, st, &t, &tl));
    ck_assert_uint_eq(tl, 0);
    /* Cut inside the code: not coded, the text is the 3 bytes. */
    ck_assert(!hb_sqlstate_split(frame, 3, st, &t, &tl));
    ck_assert_str_eq(st, "XX000");
    ck_assert_ptr_eq(t, frame);
    ck_assert_uint_eq(tl, 3);
    /* A code followed, within the length, by a non-space byte. */
    const char glued[6] = {'2', '3', '5', '0', '5', 'X'};
    ck_assert(!hb_sqlstate_split(glued, sizeof glued, st, &t, &tl));
    ck_assert_uint_eq(tl, 6);
}
END_TEST

START_TEST(test_sqlstate_grow)
{
    int *a = NULL;
    size_t cap = 0;
    HB_GROW(a, cap, 1, 4);
    ck_assert_uint_eq(cap, 4); /* first */
    for (int i = 0; i < 4; i++)
        a[i] = 10 + i;
    int *before = a;
    HB_GROW(a, cap, 4, 4); /* already enough: untouched */
    ck_assert_uint_eq(cap, 4);
    ck_assert_ptr_eq(a, before);
    HB_GROW(a, cap, 5, 4);
    ck_assert_uint_eq(cap, 8); /* doubling */
    HB_GROW(a, cap, 100, 4);
    ck_assert_uint_eq(cap, 128); /* doubling until it holds 100 */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(a[i], 10 + i); /* contents kept */
    hb_free(a);

    /* first 0 means 1; any integer lvalue works as the capacity. */
    uint32_t cap32 = 0;
    char *c = NULL;
    HB_GROW(c, cap32, 3, 0);
    ck_assert_uint_eq(cap32, 4);
    size_t none = 0;
    HB_GROW(c, cap32, none, 16); /* need 0: nothing */
    ck_assert_uint_eq(cap32, 4);
    hb_free(c);
}
END_TEST

START_TEST(test_sqlstate_grow_zero)
{
    int64_t *a = NULL;
    uint32_t cap = 0;
    HB_GROW_ZERO(a, cap, 3, 2);
    ck_assert_uint_eq(cap, 4);
    for (uint32_t i = 0; i < cap; i++)
        ck_assert_int_eq(a[i], 0);
    for (uint32_t i = 0; i < cap; i++)
        a[i] = -1;
    HB_GROW_ZERO(a, cap, 9, 2);
    ck_assert_uint_eq(cap, 16);
    for (uint32_t i = 0; i < 4; i++)
        ck_assert_int_eq(a[i], -1); /* the old part is kept */
    for (uint32_t i = 4; i < cap; i++)
        ck_assert_int_eq(a[i], 0); /* the whole new tail is zero */
    a[5] = 7;
    HB_GROW_ZERO(a, cap, 16, 2); /* no growth: nothing is zeroed */
    ck_assert_int_eq(a[5], 7);
    hb_free(a);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("sqlstate");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_sqlstate_coded", test_sqlstate_coded},
        {"test_sqlstate_bare_code", test_sqlstate_bare_code},
        {"test_sqlstate_not_coded", test_sqlstate_not_coded},
        {"test_sqlstate_null_and_optional_out", test_sqlstate_null_and_optional_out},
        {"test_sqlstate_unterminated", test_sqlstate_unterminated},
        {"test_sqlstate_grow", test_sqlstate_grow},
        {"test_sqlstate_grow_zero", test_sqlstate_grow_zero},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].fn);
        suite_add_tcase(s, tc);
    }
    return s;
}

int
main(void)
{
    return hb_test_run(s_suite());
}
