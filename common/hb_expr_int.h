/* hb_expr_int.h — what the value code (hb_val.c) and the evaluator
 * (hb_expr.c) share; private to those two files.
 */
#ifndef HB_EXPR_INT_H
#define HB_EXPR_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "hb_expr.h"

#define HB_US_PER_DAY 86400000000LL /* microseconds in a day */

/* Returns the number of UTF-8 characters in s (len bytes). */
uint32_t hb_utf8_len(const uint8_t *s, uint32_t len);
/* Returns the byte offset of character ch (0-based) in s, or len if
 * beyond. */
uint32_t hb_utf8_off(const uint8_t *s, uint32_t len, uint32_t ch);

/* Returns n / 10^k rounded half away from zero. */
__int128 hb_dec_round_div(__int128 n, int k);
/* Stores n (a decimal at scale) into *out and returns true when it fits
 * int64; returns false otherwise. */
bool hb_dec_fit(__int128 n, int scale, hb_val_t *out);
/* Returns an integer or decimal value as a decimal. */
hb_val_t hb_dec_of(const hb_val_t *v);

/* Returns whether v is an integer, decimal or double. */
bool hb_val_is_num(const hb_val_t *v);
/* Returns a numeric value as a double. */
double hb_val_as_double(const hb_val_t *v);
/* Returns the SQL type name of v's kind for error messages (static). */
const char *hb_val_type_name(const hb_val_t *v);

#endif
