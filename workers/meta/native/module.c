/* workers.meta._native: the compiled fast path of `normalize_user_data` (one event's
 * user_data in one call). Optional: without it the pure-Python path gives the same results.
 *
 * What it does itself: for each value that is printable ASCII, the per-key acceptor of
 * rules.c (or a table lookup here) gives the normalized form, and OpenSSL's SHA-256 the hash.
 * Everything else - other scripts, unusual shapes, every value the acceptors are not sure of,
 * so every refusal and its reason - is handed to the Python rules through `lookup` (the
 * module's memoized `_lookup`). Events that need the general path (a key spelled twice, an
 * unknown key, non-string or already-hashed values) return None and Python takes them whole.
 *
 * Why C: on one core, for a person seen for the first time, the Python rules cost about what
 * the official SDK spends on its whole event, half the speed the project aims for
 * (bench/RESULTS.md, "pure Python" column). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <time.h>

#include "rules.h"

#define MAX_VALUE_LENGTH 8192 /* _values.MAX_VALUE_LENGTH */
#define MAX_KEYS 64

/* Rule ids, as workers/meta/_fast.py's RULE_IDS numbers them. */
enum {
    R_OTHER = 0, R_EM, R_PH, R_NAME, R_GE, R_DB, R_CT, R_ST, R_ZP, R_COUNTRY, R_EXTERNAL_ID,
    R_IP, R_USER_AGENT, R_FBC, R_FBP, R_COUNT
};

/* Set once by configure(); module-level because the tables are the process's own. */
static PyObject *key_info;     /* raw key -> (Meta key, rule id, hashed) */
static PyObject *genders;      /* _tables.GENDERS */
static PyObject *us_states, *us_codes, *ca_provinces, *ca_codes;
static PyObject *alpha_2, *countries; /* _tables.alpha_2_codes(), _tables.countries() */
static PyObject *nanp_regions; /* upper-case regions of +1 */
static PyObject *valid_nanp;   /* _phonelib.valid_nanp(nsn) */
static PyObject *plain_e164;   /* _phonelib.plain_e164(digits, international, region) */
static PyObject *months, *date_noise; /* _tables.MONTHS, _tables.DATE_NOISE */
static PyObject *dropped_type; /* _rules.Dropped */
static PyObject *country_key, *empty;

static PyObject *ascii(const char *s, size_t n) {
    PyObject *text = PyUnicode_New((Py_ssize_t)n, 127);
    if (text != NULL) memcpy(PyUnicode_1BYTE_DATA(text), s, n);
    return text;
}

static PyObject *sha256_hex(const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[SHA256_DIGEST_LENGTH];
    /* A context on the stack, not the one-shot SHA256(): in OpenSSL 3 that fetches the
     * algorithm on every call, ~9x the cost of hashing a short value. */
    SHA256_CTX context;
    SHA256_Init(&context);
    SHA256_Update(&context, s, n);
    SHA256_Final(digest, &context);
    PyObject *text = PyUnicode_New(64, 127);
    if (text == NULL) return NULL;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = (Py_UCS1)hex[digest[i] >> 4];
        out[2 * i + 1] = (Py_UCS1)hex[digest[i] & 15];
    }
    return text;
}

/* A dict's value, or for a set the key itself, looked up by ASCII text: a new reference, or
 * NULL when absent (with *failed set when an error is set). */
static PyObject *table_get(PyObject *table, const char *s, size_t n, int *failed) {
    PyObject *key = ascii(s, n);
    if (key == NULL) {
        *failed = 1;
        return NULL;
    }
    if (PyAnySet_Check(table)) {
        int in = PySet_Contains(table, key);
        *failed = in < 0;
        if (in > 0) return key;
        Py_DECREF(key);
        return NULL;
    }
    PyObject *found = PyDict_GetItemWithError(table, key);
    Py_DECREF(key);
    *failed = found == NULL && PyErr_Occurred() != NULL;
    return Py_XNewRef(found);
}

/* A form found in a table: copied to `out`. */
static int take_form(PyObject *form, char *out, size_t *out_n) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(form, &n);
    if (s != NULL) { /* copied before the decref: a set's "form" is the lookup key itself */
        memcpy(out, s, (size_t)n);
        *out_n = (size_t)n;
    }
    Py_DECREF(form);
    return s == NULL ? -1 : 1;
}

/* st: _rules.st on ASCII letters. */
static int state(const char *s, size_t n, const char *country, char *out, size_t *out_n) {
    size_t k = gdp_letters(s, n, out);
    int failed = 0, us = strcmp(country, "us") == 0, none = country[0] == '\0';
    PyObject *form;
    if (k == 0) return 0;
    if (none || us) {
        form = table_get(us_codes, out, k, &failed);
        if (form == NULL && !failed) form = table_get(us_states, out, k, &failed);
        if (failed) return -1;
        if (form != NULL) return take_form(form, out, out_n);
        if (us) return 0;
    }
    if (none || strcmp(country, "ca") == 0) {
        form = table_get(ca_codes, out, k, &failed);
        if (form == NULL && !failed) form = table_get(ca_provinces, out, k, &failed);
        if (failed) return -1;
        if (form != NULL) return take_form(form, out, out_n);
    }
    *out_n = k;
    return 1;
}

/* country: _rules.country_code on ASCII text. */
static int country_code(const char *s, size_t n, char *out, size_t *out_n) {
    int failed = 0;
    PyObject *form = NULL;
    size_t k = gdp_trim_lower(s, n, out);
    if (k == 2) form = table_get(alpha_2, out, k, &failed);
    if (form == NULL && !failed) {
        k = gdp_letters(s, n, out);
        form = table_get(countries, out, k, &failed);
    }
    if (failed) return -1;
    return form == NULL ? 0 : take_form(form, out, out_n);
}

/* ge: _tables.GENDERS on the trimmed, lower-cased text. */
static int gender(const char *s, size_t n, char *out, size_t *out_n) {
    int failed = 0;
    size_t k = gdp_trim_lower(s, n, out);
    PyObject *form = table_get(genders, out, k, &failed);
    if (failed) return -1;
    return form == NULL ? 0 : take_form(form, out, out_n);
}

/* ph: numbers written with digits and separators only (_phone.normalize_phone's fast cases):
 * NANP ones through _phonelib.valid_nanp, the others through _phonelib.plain_e164; every
 * other shape, and every number these cannot vouch for, goes to Python. */
static int phone(const char *s, size_t n, const char *country, PyObject *region, char *out,
                 size_t *out_n) {
    char digits[64];
    int international;
    int k = gdp_phone_digits(s, n, digits, &international);
    if (k < 0) return 0;
    PyObject *number_region;
    if (country[0] != '\0') {
        char upper[2] = {(char)(country[0] - 32), (char)(country[1] - 32)};
        number_region = ascii(upper, 2);
        if (number_region == NULL) return -1;
    } else {
        number_region = Py_NewRef(region);
    }
    int accepted = -1;
    int nanp = PySet_Contains(nanp_regions, number_region);
    if (nanp < 0) goto done;
    if (gdp_nanp(digits, (size_t)k, international, nanp, out + 1)) {
        out[0] = '1';
        PyObject *national = ascii(out + 1, 10);
        if (national == NULL) goto done;
        PyObject *valid = PyObject_CallOneArg(valid_nanp, national);
        Py_DECREF(national);
        if (valid == NULL) goto done;
        accepted = PyObject_IsTrue(valid);
        Py_DECREF(valid);
        if (accepted > 0) *out_n = 11;
    } else {
        PyObject *text = ascii(digits, (size_t)k);
        if (text == NULL) goto done;
        PyObject *args[3] = {text, international ? Py_True : Py_False, number_region};
        PyObject *e164 = PyObject_Vectorcall(plain_e164, args, 3, NULL);
        Py_DECREF(text);
        if (e164 == NULL) goto done;
        accepted = 0; /* None: not sure */
        if (PyUnicode_Check(e164)) {
            Py_ssize_t length = 0;
            const char *number = PyUnicode_AsUTF8AndSize(e164, &length);
            if (number == NULL) {
                accepted = -1;
            } else if (length <= 20) { /* code + national number: 20 digits at most */
                memcpy(out, number, (size_t)length);
                *out_n = (size_t)length;
                accepted = 1;
            }
        }
        Py_DECREF(e164);
    }
done:
    Py_DECREF(number_region);
    return accepted;
}

/* For gdp_dob_words: _tables.MONTHS and _tables.DATE_NOISE. */
static int month_of(const char *word, size_t n) {
    int failed = 0;
    PyObject *month = table_get(months, word, n, &failed);
    if (month != NULL) {
        long number = PyLong_AsLong(month);
        Py_DECREF(month);
        return number >= 1 && number <= 12 ? (int)number : (PyErr_Occurred() ? -2 : -1);
    }
    if (failed) return -2;
    PyObject *noise = table_get(date_noise, word, n, &failed);
    if (failed) return -2;
    Py_XDECREF(noise);
    return noise != NULL ? 0 : -1;
}

static int date_of_birth(const char *s, size_t n, char *out, size_t *out_n) {
    int status = gdp_dob(s, n, out, out_n);
    return status != 0 ? status : gdp_dob_words(s, n, month_of, out, out_n);
}

/* 1: accepted into out; 0: Python decides; -1: error set. */
static int accept(int rule, const char *s, size_t n, const char *country, PyObject *region,
                  char *out, size_t *out_n) {
    switch (rule) {
        case R_EM: return gdp_email(s, n, out, out_n);
        case R_PH: return phone(s, n, country, region, out, out_n);
        case R_NAME: return gdp_name(s, n, out, out_n);
        case R_GE: return gender(s, n, out, out_n);
        case R_DB: return date_of_birth(s, n, out, out_n);
        case R_CT: return gdp_city(s, n, out, out_n);
        case R_ST: return state(s, n, country, out, out_n);
        case R_ZP: return gdp_zip(s, n, country, out, out_n);
        case R_COUNTRY: return country_code(s, n, out, out_n);
        case R_EXTERNAL_ID: case R_USER_AGENT: return gdp_trimmed(s, n, out, out_n);
        case R_IP: return gdp_ip(s, n, out, out_n);
        case R_FBC: return gdp_fbc(s, n, out, out_n);
        case R_FBP: return gdp_fbp(s, n, out, out_n);
        default: return 0;
    }
}

static int printable(const Py_UCS1 *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e) return 0;
    return 1;
}

static int blank(PyObject *text) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i))) return 0;
    return 1;
}

/* The value as Python's single pass would take it: 1 normalize it, 0 skip it (blank or None),
 * 2 the general path must take the whole event. */
static int usable(PyObject *value) {
    if (value == Py_None) return 0;
    if (!PyUnicode_CheckExact(value)) return 2;
    Py_ssize_t n = PyUnicode_GET_LENGTH(value);
    if (n >= 64) {
        if (n > MAX_VALUE_LENGTH) return 2;
        if (PyUnicode_IS_ASCII(value)) { /* an already-hashed value passes through in Python */
            const Py_UCS1 *s = PyUnicode_1BYTE_DATA(value);
            Py_ssize_t a = 0, b = n;
            while (a < b && Py_UNICODE_ISSPACE(s[a])) a++;
            while (b > a && Py_UNICODE_ISSPACE(s[b - 1])) b--;
            if (b - a == 64) {
                Py_ssize_t i = a;
                while (i < b && Py_ISXDIGIT(s[i])) i++;
                if (i == b) return 2;
            }
        } else {
            return 2;
        }
    }
    return n == 0 || blank(value) ? 0 : 1;
}

/* Normalize one value into the output dicts, or record why it was dropped. 0 ok, -1 error. */
static int one_value(int rule, int hashed, PyObject *key, PyObject *value, const char *country,
                     PyObject *country_obj, PyObject *region, PyObject *lookup,
                     PyObject *user_data, PyObject *normalized, PyObject *dropped) {
    /* On the stack, not static: `lookup` and the phone rules are Python calls, during which
     * another thread may run single_pass. */
    char buffer[MAX_VALUE_LENGTH + 64];
    size_t out_n = 0;
    int status = 0;
    if (rule != R_OTHER && PyUnicode_IS_ASCII(value)) {
        const Py_UCS1 *s = PyUnicode_1BYTE_DATA(value);
        Py_ssize_t n = PyUnicode_GET_LENGTH(value);
        if (printable(s, n))
            status = accept(rule, (const char *)s, (size_t)n, country, region, buffer, &out_n);
        if (status < 0) return -1;
    }
    PyObject *form, *sent;
    if (status == 1) {
        form = ascii(buffer, out_n);
        if (form == NULL) return -1;
        if (hashed) {
            sent = sha256_hex(buffer, out_n);
            if (sent == NULL) {
                Py_DECREF(form);
                return -1;
            }
        } else {
            sent = Py_NewRef(form);
        }
    } else {
        int context = rule == R_PH || rule == R_ST || rule == R_ZP;
        PyObject *args[4] = {key, value, context && country_obj ? country_obj : Py_None,
                             rule == R_PH ? region : empty};
        PyObject *outcome = PyObject_Vectorcall(lookup, args, 4, NULL);
        if (outcome == NULL) return -1;
        if (PyUnicode_Check(outcome)) {
            PyObject *item = PyObject_CallFunctionObjArgs(dropped_type, key, outcome, NULL);
            Py_DECREF(outcome);
            if (item == NULL) return -1;
            int failed = PyList_Append(dropped, item);
            Py_DECREF(item);
            return failed;
        }
        if (!PyTuple_Check(outcome) || PyTuple_GET_SIZE(outcome) != 2) {
            Py_DECREF(outcome);
            PyErr_SetString(PyExc_TypeError, "lookup must return (form, sent) or a reason");
            return -1;
        }
        form = Py_NewRef(PyTuple_GET_ITEM(outcome, 0));
        sent = Py_NewRef(PyTuple_GET_ITEM(outcome, 1));
        Py_DECREF(outcome);
    }
    int failed = PyDict_SetItem(normalized, key, form) || PyDict_SetItem(user_data, key, sent);
    Py_DECREF(form);
    Py_DECREF(sent);
    return failed ? -1 : 0;
}

/* The current year, looked up at most once a minute (a stale year only defers more). */
static void update_this_year(void) {
    static time_t checked = 0;
    time_t now = time(NULL);
    struct tm local;
    if ((now < checked || now - checked > 60) && localtime_r(&now, &local) != NULL) {
        gdp_set_this_year(local.tm_year + 1900);
        checked = now;
    }
}

/* single_pass(raw, region, lookup) -> (user_data, dropped, normalized) | None */
static PyObject *single_pass(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyDict_CheckExact(args[0]) || !PyUnicode_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "single_pass(raw: dict, region: str, lookup)");
        return NULL;
    }
    if (key_info == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "workers.meta._native is not configured");
        return NULL;
    }
    PyObject *raw = args[0], *region = args[1], *lookup = args[2];
    PyObject *user_data = PyDict_New(), *normalized = PyDict_New(), *dropped = PyList_New(0);
    PyObject *country_data = PyDict_New(), *country_forms = PyDict_New();
    PyObject *country_dropped = PyList_New(0), *result = NULL;
    PyObject *seen[MAX_KEYS];
    Py_ssize_t n_seen = 0, pos = 0;
    PyObject *raw_key, *value;
    char country[3] = "";
    update_this_year();
    if (!user_data || !normalized || !dropped || !country_data || !country_forms ||
        !country_dropped)
        goto done;

    /* The person's country first: phones, states and zips depend on it. */
    PyObject *raw_country = PyDict_GetItemWithError(raw, country_key);
    if (raw_country == NULL && PyErr_Occurred()) goto done;
    if (raw_country != NULL) {
        int use = usable(raw_country);
        if (use == 2) goto fallback;
        if (use == 1 && one_value(R_COUNTRY, 1, country_key, raw_country, "", NULL, region,
                                  lookup, country_data, country_forms, country_dropped) < 0)
            goto done;
        PyObject *form = PyDict_GetItemWithError(country_forms, country_key);
        if (form == NULL && PyErr_Occurred()) goto done;
        if (form != NULL && PyUnicode_IS_ASCII(form) && PyUnicode_GET_LENGTH(form) == 2)
            memcpy(country, PyUnicode_1BYTE_DATA(form), 2);
    }
    PyObject *country_obj = country[0] ? PyDict_GetItem(country_forms, country_key) : NULL;

    while (PyDict_Next(raw, &pos, &raw_key, &value)) {
        /* Exact str keys only: a subclass's __eq__/__hash__ could run code mid-iteration. */
        if (!PyUnicode_CheckExact(raw_key)) goto fallback;
        PyObject *info = PyDict_GetItemWithError(key_info, raw_key);
        if (info == NULL) {
            if (PyErr_Occurred()) goto done;
            goto fallback; /* an unknown key or another spelling: the general path reports it */
        }
        PyObject *key = PyTuple_GET_ITEM(info, 0);
        int rule = (int)PyLong_AsLong(PyTuple_GET_ITEM(info, 1));
        int hashed = PyTuple_GET_ITEM(info, 2) == Py_True;
        for (Py_ssize_t i = 0; i < n_seen; i++)
            if (seen[i] == key) goto fallback; /* the same Meta key twice: merged in Python */
        if (n_seen == MAX_KEYS) goto fallback;
        seen[n_seen++] = key;
        if (rule == R_COUNTRY) {
            if (PyDict_Update(user_data, country_data) < 0 ||
                PyDict_Update(normalized, country_forms) < 0)
                goto done;
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(country_dropped); i++)
                if (PyList_Append(dropped, PyList_GET_ITEM(country_dropped, i)) < 0) goto done;
            continue;
        }
        int use = usable(value);
        if (use == 2) goto fallback;
        if (use == 1 && one_value(rule, hashed, key, value, country, country_obj, region, lookup,
                                  user_data, normalized, dropped) < 0)
            goto done;
    }
    PyObject *dropped_tuple = PyList_AsTuple(dropped);
    if (dropped_tuple != NULL)
        result = PyTuple_Pack(3, user_data, dropped_tuple, normalized);
    Py_XDECREF(dropped_tuple);
    goto done;
fallback:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(user_data);
    Py_XDECREF(normalized);
    Py_XDECREF(dropped);
    Py_XDECREF(country_data);
    Py_XDECREF(country_forms);
    Py_XDECREF(country_dropped);
    return result;
}

/* configure(*, key_info, genders, ...): the tables and functions of the Python rules (see
 * workers/meta/_fast.py), all keyword-only. */
static PyObject *configure(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"key_info", "genders", "us_states", "us_state_codes",
                            "ca_provinces", "ca_province_codes", "alpha_2_codes", "countries",
                            "nanp_regions", "valid_nanp", "plain_e164", "months", "date_noise",
                            "dropped", NULL};
    PyObject *info = NULL, *g = NULL, *uss = NULL, *usc = NULL, *cap = NULL, *cac = NULL;
    PyObject *a2 = NULL, *cs = NULL, *nanp = NULL, *vn = NULL, *pe = NULL, *mo = NULL;
    PyObject *dn = NULL, *dropped = NULL;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "|$O!O!O!O!O!O!O!O!O!OOO!O!O:configure", names, &PyDict_Type, &info,
            &PyDict_Type, &g, &PyDict_Type, &uss, &PyFrozenSet_Type, &usc, &PyDict_Type, &cap,
            &PyFrozenSet_Type, &cac, &PyFrozenSet_Type, &a2, &PyDict_Type, &cs,
            &PyFrozenSet_Type, &nanp, &vn, &pe, &PyDict_Type, &mo, &PyFrozenSet_Type, &dn,
            &dropped))
        return NULL;
    if (PyTuple_GET_SIZE(args) != 0 || kwargs == NULL || PyDict_GET_SIZE(kwargs) != 14) {
        PyErr_SetString(PyExc_TypeError, "configure() takes all 14 tables as keywords");
        return NULL;
    }
    /* Once per process: single_pass borrows these tables across Python callbacks, so
     * replacing them while another thread is inside it would free them under it. */
    if (key_info != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "workers.meta._native is already configured");
        return NULL;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(info, &pos, &key, &value)) {
        if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 3 ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(value, 0)) ||
            !PyLong_Check(PyTuple_GET_ITEM(value, 1)) ||
            PyLong_AsLong(PyTuple_GET_ITEM(value, 1)) < 0 ||
            PyLong_AsLong(PyTuple_GET_ITEM(value, 1)) >= R_COUNT) {
            PyErr_SetString(PyExc_ValueError, "key_info values must be (key, rule id, hashed)");
            return NULL;
        }
    }
    Py_XSETREF(key_info, Py_NewRef(info));
    Py_XSETREF(genders, Py_NewRef(g));
    Py_XSETREF(us_states, Py_NewRef(uss));
    Py_XSETREF(us_codes, Py_NewRef(usc));
    Py_XSETREF(ca_provinces, Py_NewRef(cap));
    Py_XSETREF(ca_codes, Py_NewRef(cac));
    Py_XSETREF(alpha_2, Py_NewRef(a2));
    Py_XSETREF(countries, Py_NewRef(cs));
    Py_XSETREF(nanp_regions, Py_NewRef(nanp));
    Py_XSETREF(valid_nanp, Py_NewRef(vn));
    Py_XSETREF(plain_e164, Py_NewRef(pe));
    Py_XSETREF(months, Py_NewRef(mo));
    Py_XSETREF(date_noise, Py_NewRef(dn));
    Py_XSETREF(dropped_type, Py_NewRef(dropped));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"single_pass", (PyCFunction)(void (*)(void))single_pass, METH_FASTCALL,
     "single_pass(raw, region, lookup) -> (user_data, dropped, normalized) or None"},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS, "Hand over the normalization tables (once)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "Compiled fast path of workers.meta.normalize.", -1,
    methods,            NULL,      NULL,                                            NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    country_key = PyUnicode_InternFromString("country");
    empty = PyUnicode_InternFromString("");
    if (country_key == NULL || empty == NULL) return NULL;
    return PyModule_Create(&module);
}
