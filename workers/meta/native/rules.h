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
/* The 10-digit national number of a NANP phone number written with digits and separators, or
 * 0. `nanp_region`: the number's region (person's country or default) uses +1. */
int gdp_nanp(const char *s, size_t n, int nanp_region, char *out10);
/* The year of the current local date, for the date-of-birth "not in the future" rule. */
void gdp_set_this_year(int year);

#endif
