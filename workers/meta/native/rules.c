/* The compiled fast path's per-key acceptors: each one recognises the common, unambiguous
 * shapes of a value and returns its normalized form, or 0 ("not sure") so that the Python rule
 * in workers/meta/_rules.py decides. They never reject: every refusal, and every reason a
 * caller sees, comes from the Python rules. So an acceptor only has to be exact where it
 * accepts; tests/test_normalize_native.py checks that on every golden vector, the tricky-input
 * table and generated values.
 *
 * Input is printable ASCII only (the caller defers anything else), so "strip" is trimming
 * spaces, `\s` inside a value can only be a space, and lower-casing is ASCII's. */
#include "rules.h"

#include <string.h>

static int this_year = 0; /* 0 until set: every date of birth is deferred */

void gdp_set_this_year(int year) { this_year = year; }

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_lower(char c) { return c >= 'a' && c <= 'z'; }
static int is_lower_alnum(char c) { return is_lower(c) || is_digit(c); }
static int is_b64url(char c) {
    return is_digit(c) || is_lower(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}
static int is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

static void trim(const char **s, size_t *n) {
    while (*n && (*s)[0] == ' ') {
        (*s)++;
        (*n)--;
    }
    while (*n && (*s)[*n - 1] == ' ') (*n)--;
}

size_t gdp_trim_lower(const char *s, size_t n, char *out) {
    trim(&s, &n);
    for (size_t i = 0; i < n; i++) out[i] = lower(s[i]);
    return n;
}

size_t gdp_letters(const char *s, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = lower(s[i]);
        if (is_lower(c)) out[k++] = c;
    }
    return k;
}

/* em: _rules._EMAIL on the trimmed, lower-cased text. The local part cannot hold '@' and no
 * domain part can hold '.', so splitting at the first '@' and at every '.' is the regex's only
 * parse. */
static int email_label(const char *p, size_t n) {
    if (n < 1 || n > 63 || !is_lower_alnum(p[0]) || !is_lower_alnum(p[n - 1])) return 0;
    for (size_t i = 1; i + 1 < n; i++)
        if (!is_lower_alnum(p[i]) && p[i] != '_' && p[i] != '-') return 0;
    return 1;
}

static int email_tld(const char *p, size_t n) {
    if (n >= 5 && memcmp(p, "xn--", 4) == 0 && n - 4 <= 59) {
        for (size_t i = 4; i < n; i++)
            if (!is_lower_alnum(p[i]) && p[i] != '-') return 0;
        return 1;
    }
    if (n < 2 || n > 63) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower(p[i])) return 0;
    return 1;
}

int gdp_email(const char *s, size_t n, char *out, size_t *out_n) {
    size_t m = gdp_trim_lower(s, n, out);
    const char *at = memchr(out, '@', m);
    if (at == NULL) return 0;
    size_t local = (size_t)(at - out);
    if (local < 1 || local > 64) return 0;
    for (size_t i = 0; i < local; i++)
        if (strchr(" \"(),:;<>[]\\", out[i]) != NULL) return 0;
    size_t start = local + 1, labels = 0;
    for (size_t i = start; i < m; i++) {
        if (out[i] == '@') return 0;
        if (out[i] == '.') {
            if (!email_label(out + start, i - start)) return 0;
            labels++;
            start = i + 1;
        }
    }
    if (labels == 0 || !email_tld(out + start, m - start)) return 0;
    *out_n = m;
    return 1;
}

/* fn/ln: lower-case letters and digits; not empty, not digits only. */
int gdp_name(const char *s, size_t n, char *out, size_t *out_n) {
    size_t k = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = lower(s[i]);
        if (is_lower_alnum(c)) {
            out[k++] = c;
            digits += is_digit(c);
        }
    }
    if (k == 0 || digits == k) return 0;
    *out_n = k;
    return 1;
}

/* ct: lower-case letters only, not empty. */
int gdp_city(const char *s, size_t n, char *out, size_t *out_n) {
    size_t k = gdp_letters(s, n, out);
    if (k == 0) return 0;
    *out_n = k;
    return 1;
}

/* external_id, client_user_agent: trimmed, not empty (printable input has no controls). */
int gdp_trimmed(const char *s, size_t n, char *out, size_t *out_n) {
    trim(&s, &n);
    if (n == 0) return 0;
    memcpy(out, s, n);
    *out_n = n;
    return 1;
}

/* --- db ---------------------------------------------------------------------------------- */

static int digits_value(const char *p, size_t n) {
    int v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (p[i] - '0');
    return v;
}

/* The length of the run of digits that starts at p. */
static size_t digit_run(const char *p, size_t n) {
    size_t k = 0;
    while (k < n && is_digit(p[k])) k++;
    return k;
}

static int days_in(int year, int month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
    return days[month - 1];
}

/* _dob._checked, but only for years before the current one: a date this year might be in the
 * future, so it is left to Python, which knows today's date. */
static int dob_out(int year, int month, int day, char *out, size_t *out_n) {
    if (this_year == 0 || year < 1900 || year >= this_year) return 0;
    if (month < 1 || month > 12 || day < 1 || day > days_in(year, month)) return 0;
    out[0] = (char)('0' + year / 1000);
    out[1] = (char)('0' + year / 100 % 10);
    out[2] = (char)('0' + year / 10 % 10);
    out[3] = (char)('0' + year % 10);
    out[4] = (char)('0' + month / 10);
    out[5] = (char)('0' + month % 10);
    out[6] = (char)('0' + day / 10);
    out[7] = (char)('0' + day % 10);
    *out_n = 8;
    return 1;
}

/* _dob._TIME_SUFFIX (case-insensitive) on s[p..n), from its first character to the end:
 * [T ]|,\s*  H{1,2}:MM  (:SS ([.,]F+)?)?  \s* ([ap]\.?m\.?)?  \s* (z|utc|gmt|[+-]HH(:?MM)?)?
 * Greedy and conservative: it may miss a suffix the regex takes (then Python decides), never
 * the reverse. */
static int time_suffix(const char *s, size_t p, size_t n) {
    if (p >= n) return 0;
    char c = lower(s[p]);
    if (c == 't' || c == ' ') p++;
    else if (c == ',') for (p++; p < n && s[p] == ' '; p++);
    else return 0;
    size_t d = digit_run(s + p, n - p);
    if (d < 1 || d > 2) return 0;
    p += d;
    if (p >= n || s[p] != ':' || digit_run(s + p + 1, n - p - 1) != 2) return 0;
    p += 3;
    if (p < n && s[p] == ':') {
        if (digit_run(s + p + 1, n - p - 1) != 2) return 0;
        p += 3;
        if (p + 1 < n && (s[p] == '.' || s[p] == ',') && is_digit(s[p + 1]))
            p += 1 + digit_run(s + p + 1, n - p - 1);
    }
    while (p < n && s[p] == ' ') p++;
    if (p < n && (lower(s[p]) == 'a' || lower(s[p]) == 'p')) {
        p++;
        if (p < n && s[p] == '.') p++;
        if (p >= n || lower(s[p]) != 'm') return 0;
        p++;
        if (p < n && s[p] == '.') p++;
    }
    while (p < n && s[p] == ' ') p++;
    size_t rest = n - p;
    char zone[4] = {0};
    for (size_t i = 0; i < rest && i < 3; i++) zone[i] = lower(s[p + i]);
    if (rest == 0 || (rest == 1 && zone[0] == 'z') ||
        (rest == 3 && (memcmp(zone, "utc", 3) == 0 || memcmp(zone, "gmt", 3) == 0)))
        return 1;
    if (s[p] != '+' && s[p] != '-') return 0;
    const char *z = s + p + 1;
    rest--;
    if (rest == 2 || rest == 4) return digit_run(z, rest) == rest;
    return rest == 5 && z[2] == ':' && digit_run(z, 2) == 2 && digit_run(z + 3, 2) == 2;
}

/* The all-numeric shapes of _dob.parse_dob: YYYYMMDD, YYYY<sep>M<sep>D (sep - / .) and
 * M<sep>D<sep>YYYY (sep - / . or space; dotted is day-first unless impossible, the others
 * month-first unless impossible), each alone or followed by a time (_dob._TIME_SUFFIX; none
 * after the space-separated shape, whose spaces the suffix could start at). Two-digit years,
 * and month names without `month_of`, go to Python. */
int gdp_dob(const char *s, size_t n, char *out, size_t *out_n) {
    trim(&s, &n);
    size_t a = digit_run(s, n);
    if (a == 8 && (a == n || time_suffix(s, a, n)))
        return dob_out(digits_value(s, 4), digits_value(s + 4, 2), digits_value(s + 6, 2), out,
                       out_n);
    if (a == 0 || a >= n) return 0;
    char sep = s[a];
    size_t i = a + 1;
    size_t b = digit_run(s + i, n - i);
    if (b == 0 || i + b >= n || s[i + b] != sep) return 0;
    size_t j = i + b + 1;
    size_t c = digit_run(s + j, n - j);
    if (c == 0 || (j + c != n && (sep == ' ' || !time_suffix(s, j + c, n)))) return 0;
    if (a == 4 && (sep == '-' || sep == '/' || sep == '.') && b <= 2 && c <= 2)
        return dob_out(digits_value(s, 4), digits_value(s + i, b), digits_value(s + j, c), out,
                       out_n);
    if (a <= 2 && b <= 2 && c == 4 && (sep == '-' || sep == '/' || sep == '.' || sep == ' ')) {
        int first = digits_value(s, a), second = digits_value(s + i, b);
        int year = digits_value(s + j, 4), month, day;
        if (sep == '.') {
            day = second <= 12 ? first : second;
            month = second <= 12 ? second : first;
        } else {
            month = first <= 12 ? first : second;
            day = first <= 12 ? second : first;
        }
        return dob_out(year, month, day, out, out_n);
    }
    return 0;
}

/* _dob._from_words for a value without ':' (so no time to cut off) that holds a letter (so no
 * numeric shape matches): runs of digits and of letters, the letter runs minus the noise words
 * must be one month name, the digit runs one 4-digit year and one day of 1-2 digits.
 * `month_of(word)`: 1-12 for a month name, 0 for a noise word, -1 for any other word, -2 on
 * error (then this returns -1). */
int gdp_dob_words(const char *s, size_t n, int (*month_of)(const char *, size_t), char *out,
                  size_t *out_n) {
    if (memchr(s, ':', n) != NULL) return 0;
    int month = 0, year = -1, day = -1, letters = 0;
    char word[16];
    for (size_t i = 0; i < n;) {
        size_t k = digit_run(s + i, n - i);
        if (k > 0) {
            if (k == 4 && year < 0) year = digits_value(s + i, 4);
            else if (k <= 2 && day < 0) day = digits_value(s + i, k);
            else return 0;
            i += k;
            continue;
        }
        while (k < n - i && is_lower(lower(s[i + k]))) k++;
        if (k == 0) {
            i++;
            continue;
        }
        letters = 1;
        if (k > sizeof word) return 0;
        for (size_t m = 0; m < k; m++) word[m] = lower(s[i + m]);
        int found = month_of(word, k);
        if (found == -2) return -1;
        if (found < 0 || (found > 0 && month > 0)) return 0;
        if (found > 0) month = found;
        i += k;
    }
    if (!letters || month == 0 || year < 0 || day < 0) return 0;
    return dob_out(year, month, day, out, out_n);
}

/* --- zp ---------------------------------------------------------------------------------- */

static int all_digits(const char *p, size_t n) { return digit_run(p, n) == n; }

/* _rules._UK_POSTCODE: [a-z]{1,2}[0-9][a-z0-9]?[0-9][a-z]{2} | gir0aa, on the compact form. */
static int uk_postcode(const char *p, size_t n) {
    if (n == 6 && memcmp(p, "gir0aa", 6) == 0) return 1;
    if (n < 5 || n > 7 || !is_lower(p[n - 1]) || !is_lower(p[n - 2]) || !is_digit(p[n - 3]))
        return 0;
    size_t head = n - 3, k; /* head: [a-z]{1,2}[0-9][a-z0-9]? */
    if (!is_lower(p[0])) return 0;
    k = is_lower(p[1]) ? 2 : 1;
    if (k >= head || !is_digit(p[k])) return 0;
    k++;
    return head - k == 0 || (head - k == 1 && is_lower_alnum(p[k]));
}

int gdp_zip(const char *s, size_t n, const char *country, char *out, size_t *out_n) {
    char text[64];
    if (n > sizeof text) return 0;
    size_t m = gdp_trim_lower(s, n, text);
    int us = strcmp(country, "us") == 0, none = country[0] == '\0';
    /* _US_ZIP: 5 digits, optionally a space or '-' (or nothing) and 4 more. With no country,
     * only 12345 and 12345-6789 are taken for US zips. */
    int plus4 = m == 10 && all_digits(text, 5) && all_digits(text + 6, 4);
    int plain = (m == 5 && all_digits(text, 5)) || (plus4 && text[5] == '-');
    if (us || (none && plain)) {
        if (!plain && !(m == 9 && all_digits(text, 9)) && !(plus4 && text[5] == ' ')) return 0;
        memcpy(out, text, 5);
        *out_n = 5;
        return 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (is_lower_alnum(text[i])) out[k++] = text[i];
    if (strcmp(country, "gb") == 0 || (none && uk_postcode(out, k))) {
        if (!uk_postcode(out, k)) return 0;
    } else if (k == 0) {
        return 0;
    }
    *out_n = k;
    return 1;
}

/* --- client_ip_address ------------------------------------------------------------------- */

/* Dotted quad without leading zeros; refuses what _ip._ipv4 refuses by deferring. */
static int ipv4(const char *s, size_t n, char *out, size_t *out_n) {
    int octets[4];
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t k = digit_run(s + i, n - i);
        if (k == 0 || k > 3 || (k > 1 && s[i] == '0')) return 0;
        octets[part] = digits_value(s + i, k);
        if (octets[part] > 255) return 0;
        i += k;
        if (part < 3) {
            if (i >= n || s[i] != '.') return 0;
            i++;
        }
    }
    if (i != n) return 0;
    int first = octets[0];
    if (first == 127 || (first == 0 && octets[1] == 0 && octets[2] == 0 && octets[3] == 0) ||
        (first == 169 && octets[1] == 254) || (first >= 224 && first <= 239))
        return 0;
    memcpy(out, s, n);
    *out_n = n;
    return 1;
}

/* One to four hex digits, the hextet's value, or -1. */
static long hextet(const char *p, size_t n) {
    if (n < 1 || n > 4) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = lower(p[i]);
        if (!is_hex(c)) return -1;
        v = v * 16 + (is_digit(c) ? c - '0' : c - 'a' + 10);
    }
    return v;
}

/* Lowercase hex without leading zeros; its length. */
static size_t hex_word(long v, char *out) {
    static const char digits[] = "0123456789abcdef";
    char buf[4];
    size_t len = 0, o = 0;
    do {
        buf[len++] = digits[v & 15];
        v >>= 4;
    } while (v);
    while (len) out[o++] = buf[--len];
    return o;
}

/* Hextets of a ':'-separated run (empty run: none); count, or -1. */
static int hextets(const char *p, size_t n, long *into, int room) {
    if (n == 0) return 0;
    int count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == ':') {
            if (count == room) return -1;
            long v = hextet(p + start, i - start);
            if (v < 0) return -1;
            into[count++] = v;
            start = i + 1;
        }
    }
    return count;
}

/* All-hex IPv6 (_ip._expand + _ip._ipv6 + _ip._compressed): the RFC 5952 text. Addresses
 * whose first hextet is zero, and anything with a dotted tail or a zone, go to Python. */
static int ipv6(const char *s, size_t n, char *out, size_t *out_n) {
    if (n < 2 || n > 39 || (s[0] == ':' && s[1] == ':')) return 0;
    const char *gap = NULL;
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == ':' && s[i + 1] == ':') {
            if (gap != NULL) return 0;
            gap = s + i;
            i++;
        }
    long words[8];
    if (gap == NULL) {
        if (hextets(s, n, words, 8) != 8) return 0;
    } else {
        long right[8];
        size_t head = (size_t)(gap - s), tail = n - head - 2;
        int left_n = hextets(s, head, words, 7);
        int right_n = hextets(gap + 2, tail, right, 7);
        if (left_n < 0 || right_n < 0 || left_n + right_n > 7) return 0;
        for (int k = left_n; k < 8 - right_n; k++) words[k] = 0;
        for (int k = 0; k < right_n; k++) words[8 - right_n + k] = right[k];
    }
    if (words[0] == 0 || (words[0] & 0xFFC0) == 0xFE80 || words[0] >= 0xFF00) return 0;
    int best = -1, best_len = 0, start = -1;
    for (int k = 0; k <= 8; k++) {
        if (k < 8 && words[k] == 0) {
            if (start < 0) start = k;
        } else if (start >= 0) {
            if (k - start > best_len) {
                best = start;
                best_len = k - start;
            }
            start = -1;
        }
    }
    if (best_len < 2) {
        best = -1;
        best_len = 0;
    }
    size_t o = 0;
    for (int k = 0; k < 8; k++) {
        if (k == best) { /* the longest run of two or more zero hextets */
            out[o++] = ':';
            out[o++] = ':';
            k += best_len - 1;
            continue;
        }
        if (k > 0 && k != best + best_len) out[o++] = ':';
        o += hex_word(words[k], out + o);
    }
    *out_n = o;
    return 1;
}

int gdp_ip(const char *s, size_t n, char *out, size_t *out_n) {
    trim(&s, &n);
    if (n && is_digit(s[0]) && memchr(s, '.', n) != NULL) return ipv4(s, n, out, out_n);
    return ipv6(s, n, out, out_n);
}

/* --- fbc / fbp --------------------------------------------------------------------------- */

#define MIN_CREATED_MS 1262304000000ULL /* fbc.MIN_CREATED_MS */
#define MAX_CREATED_MS 4102444800000ULL /* fbc.MAX_CREATED_MS */

/* fbc._COOKIE, the creation time in milliseconds and plausible; the payload's span. */
static int cookie(const char *s, size_t n, size_t *payload, size_t *payload_n) {
    if (n < 7 || memcmp(s, "fb.", 3) != 0) return 0;
    size_t i = 3, k = digit_run(s + i, n - i);
    if (k == 0 || k > 2 || (k == 2 && s[i] == '0')) return 0;
    i += k;
    if (i >= n || s[i] != '.') return 0;
    i++;
    k = digit_run(s + i, n - i);
    if (k == 0 || k == 10 || k > 18) return 0;
    unsigned long long created = 0;
    for (size_t d = 0; d < k; d++) created = created * 10 + (unsigned)(s[i + d] - '0');
    if (created < MIN_CREATED_MS || created >= MAX_CREATED_MS) return 0;
    i += k;
    if (i >= n || s[i] != '.') return 0;
    i++;
    size_t p = i;
    while (i < n && is_b64url(s[i])) i++;
    if (i == p) return 0;
    *payload = p;
    *payload_n = i - p;
    if (i == n) return 1;
    if (s[i] != '.') return 0;
    size_t appendix = n - i - 1;
    if (appendix != 2 && appendix != 8) return 0;
    for (size_t j = i + 1; j < n; j++)
        if (!is_b64url(s[j])) return 0;
    return 1;
}

int gdp_fbc(const char *s, size_t n, char *out, size_t *out_n) {
    size_t payload, payload_n;
    trim(&s, &n);
    if (!cookie(s, n, &payload, &payload_n)) return 0;
    memcpy(out, s, n);
    *out_n = n;
    return 1;
}

int gdp_fbp(const char *s, size_t n, char *out, size_t *out_n) {
    size_t payload, payload_n;
    trim(&s, &n);
    if (!cookie(s, n, &payload, &payload_n)) return 0;
    if (payload_n > 19 || !all_digits(s + payload, payload_n)) return 0;
    memcpy(out, s, n);
    *out_n = n;
    return 1;
}

/* --- ph (NANP only) ---------------------------------------------------------------------- */

int gdp_phone_digits(const char *s, size_t n, char *digits, int *international) {
    size_t k = 0;
    trim(&s, &n);
    if (n == 0 || n > 64) return -1; /* longer: _phone._MAX_LENGTH's refusal, Python's */
    /* _phone._SIMPLE: \+?[0-9(][0-9 ()./\-]* */
    size_t i = s[0] == '+';
    if (i >= n || !(is_digit(s[i]) || s[i] == '(')) return -1;
    for (; i < n; i++) {
        char c = s[i];
        if (is_digit(c)) digits[k++] = c;
        else if (!strchr(" ()./-", c)) return -1;
    }
    *international = s[0] == '+';
    if (!*international && k >= 2 && digits[0] == '0' && digits[1] == '0') {
        /* "00" is read as '+' whatever the region (normalize_phone) */
        *international = 1;
        memmove(digits, digits + 2, k - 2);
        k -= 2;
    }
    return (int)k;
}

int gdp_nanp(const char *d, size_t k, int international, int nanp_region, char *out10) {
    if (k == 11 && d[0] == '1' && d[1] >= '2') {
        if (!international && !nanp_region) return 0;
        memcpy(out10, d + 1, 10);
        return 1;
    }
    if (!international && nanp_region && k == 10 && d[0] >= '2') {
        memcpy(out10, d, 10);
        return 1;
    }
    return 0;
}
