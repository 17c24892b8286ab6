/* Per-key acceptors of the compiled fast path (see rules.c). */
#ifndef GDP_NATIVE_RULES_H
#define GDP_NATIVE_RULES_H

#include <stddef.h>

/* Every acceptor reads `n` bytes of printable ASCII (0x20..0x7e, checked by the caller) and
 * either writes the normalized form to `out` (room for n + 16 bytes), sets *out_n and returns
 * 1, or returns 0: "not sure", and the Python rule decides (it also writes every reason). */
typedef int (*gdp_acceptor)(const char *s, size_t n, char *out, size_t *out_n);

int gdp_email(const char *s, size_t n, char *out, size_t *out_n);
int gdp_name(const char *s, size_t n, char *out, size_t *out_n);
int gdp_city(const char *s, size_t n, char *out, size_t *out_n);
int gdp_dob(const char *s, size_t n, char *out, size_t *out_n);
/* Dates of birth with an English month name; see rules.c for `month_of`. -1: error set. */
int gdp_dob_words(const char *s, size_t n, int (*month_of)(const char *, size_t), char *out,
                  size_t *out_n);
int gdp_trimmed(const char *s, size_t n, char *out, size_t *out_n);
int gdp_ip(const char *s, size_t n, char *out, size_t *out_n);
int gdp_fbc(const char *s, size_t n, char *out, size_t *out_n);
int gdp_fbp(const char *s, size_t n, char *out, size_t *out_n);

/* Lowercase ASCII letters only ("New York" -> "newyork"): the folded form the tables use. */
size_t gdp_letters(const char *s, size_t n, char *out);
/* Trimmed and lower-cased. */
size_t gdp_trim_lower(const char *s, size_t n, char *out);
/* zp with the person's country ("us", "gb", another code, or "" when unknown). */
int gdp_zip(const char *s, size_t n, const char *country, char *out, size_t *out_n);
/* The digits of a phone number written with digits and separators only (_phone._SIMPLE, at
 * most 64 characters), without a leading "00", which sets *international as '+' does; their
 * count, or -1 for any other shape. `digits` has room for n bytes. */
int gdp_phone_digits(const char *s, size_t n, char *digits, int *international);
/* 1 and the 10-digit national number when the digits are a NANP number (_phone._nanp_national),
 * else 0. `nanp_region`: the number's region (person's country or default) uses +1. */
int gdp_nanp(const char *d, size_t k, int international, int nanp_region, char *out10);
/* The year of the current local date, for the date-of-birth "not in the future" rule. */
void gdp_set_this_year(int year);

#endif
