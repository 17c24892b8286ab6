/**
 * Common helpers: errors with stable SQLSTATEs, hashing, normalization.
 *
 * Errors that callers branch on carry their own SQLSTATE in class GD (mapped to the project's
 * exceptions in workers/errors.py, one place) and name the offending field in the COLUMN field
 * and at the start of the message. Messages never contain raw PII values: they are logged.
 *   GD400 invalid input   GD403 forbidden   GD404 not found   GD409 conflict   GD423 gate refused
 */

CREATE OR REPLACE FUNCTION shared._raise(p_sqlstate text, p_field text, p_message text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = p_sqlstate,
        MESSAGE = CASE WHEN p_field IS NULL THEN p_message ELSE p_field || ': ' || p_message END,
        COLUMN = coalesce(p_field, '');
END
$$;

-- Lowercase hex SHA-256 of the UTF-8 bytes, the only hash format Meta accepts.
CREATE OR REPLACE FUNCTION shared._sha256_hex(p_value text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT encode(pg_catalog.sha256(convert_to(p_value, 'UTF8')), 'hex') $$;

-- Trim every kind of leading/trailing whitespace (btrim alone only trims spaces).
CREATE OR REPLACE FUNCTION shared._trim(p_value text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT btrim(p_value, E' \t\n\r\f\x0B') $$;

/*
 * The trim of Meta's normalizer (workers/meta/_text.py `strip`): Python's str.strip() (every
 * character str.isspace() accepts, \x1c-\x1f and the Unicode spaces included), then the
 * invisible format characters (zero-width space/joiners, bidi marks, word joiner, BOM), then
 * str.strip() again.
 */
CREATE OR REPLACE FUNCTION shared._meta_strip(p_value text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT btrim(btrim(btrim(p_value,
        U&'\0009\000A\000B\000C\000D\001C\001D\001E\001F\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000'),
        U&'\200B\200C\200D\200E\200F\2060\FEFF'),
        U&'\0009\000A\000B\000C\000D\001C\001D\001E\001F\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000')
$$;

/*
 * Meta's em rule exactly as the hashing normalizer applies it (workers/meta/_rules.py `em`):
 * trim (_meta_strip), NFC, then Unicode full lower-casing. lower() under the database's libc
 * locale is not Python's str.lower() (U+0130 'İ' becomes 'i', not 'i̇'; no final sigma), ICU's
 * root locale is, for every code point (tests/test_email_identity.py checks all of them). One
 * spelling per person, so two spellings of one address are one person and an erasure by email
 * matches the hash Meta received.
 */
CREATE OR REPLACE FUNCTION shared._normalize_email(p_email text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- ASCII (as many bytes as characters), the common case: Python's strip() and lower() of
    -- ASCII text are these, and "C" lower-cases A-Z only whatever the database's locale.
    SELECT nullif(CASE
        WHEN octet_length(p_email) = length(p_email)
            THEN lower(btrim(p_email, E'\t\n\x0B\f\r\x1C\x1D\x1E\x1F ') COLLATE "C")
                 COLLATE "default"
        ELSE lower(normalize(shared._meta_strip(p_email), NFC) COLLATE "und-x-icu")
             COLLATE "default"
    END, '')
$$;

CREATE OR REPLACE FUNCTION shared._is_valid_email(p_email text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT p_email ~ '^[^@\s]+@[^@\s]+\.[^@\s.]+$' $$;

/*
 * Phones are stored in E.164. Choosing the country of a number written without one needs a real
 * phone-number library (workers use `phonenumbers`); here we only strip formatting from numbers
 * that already carry their country code ("+1 (415) 555-0123", "0044 20 7946 0958") and return
 * NULL for anything else, so the caller can refuse it with a clear error.
 */
CREATE OR REPLACE FUNCTION shared._normalize_phone(p_phone text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- One expression (no CTE) so that it inlines; the common case is already E.164.
    SELECT CASE
        WHEN p_phone ~ '^\+[1-9][0-9]{6,14}$' THEN p_phone
        WHEN regexp_replace(regexp_replace(p_phone, '[\s().\-/]', '', 'g'), '^00', '+')
             ~ '^\+[1-9][0-9]{6,14}$'
        THEN regexp_replace(regexp_replace(p_phone, '[\s().\-/]', '', 'g'), '^00', '+')
    END
$$;

-- Meta's ph format: digits with country code, no '+'.
CREATE OR REPLACE FUNCTION shared._meta_phone_digits(p_e164 text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ltrim(p_e164, '+') $$;

CREATE OR REPLACE FUNCTION shared._normalize_gender(p_gender text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE lower(shared._trim(p_gender))
        WHEN 'f' THEN 'f' WHEN 'female' THEN 'f' WHEN 'woman' THEN 'f'
        WHEN 'm' THEN 'm' WHEN 'male' THEN 'm' WHEN 'man' THEN 'm'
    END
$$;

-- A date from ISO text, or NULL: lets set-based validation test many rows without exceptions.
CREATE OR REPLACE FUNCTION shared._try_iso_date(p_value text)
RETURNS date
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF p_value !~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN NULL;
    END IF;
    RETURN p_value::date;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- Aggregate that fills an object with keys it does not have yet: earlier values win.
CREATE OR REPLACE FUNCTION shared._jsonb_fill_step(p_state jsonb, p_next jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(p_next, '{}'::jsonb) || coalesce(p_state, '{}'::jsonb) $$;

CREATE OR REPLACE AGGREGATE shared._jsonb_fill(jsonb) (
    SFUNC = shared._jsonb_fill_step,
    STYPE = jsonb,
    INITCOND = '{}'
);

/*
 * A table only the service role reads or writes, with a policy named for what it may do
 * (the files in db/policies call it once per table; run by whoever deploys, who owns the tables):
 * no privilege for PUBLIC, anon or authenticated, row security on, and one policy for
 * service_role alone (the role itself, never a JWT claim: any session can set
 * request.jwt.claims). The catch-all policy an earlier 10_rls.sql gave every table
 * ("Only the service role can read or write <table>") is dropped where another name replaces it.
 */
CREATE OR REPLACE FUNCTION shared._service_role_only(p_table text, p_policy text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('REVOKE ALL ON shared.%I FROM PUBLIC, anon, authenticated', p_table);
    EXECUTE format('ALTER TABLE shared.%I ENABLE ROW LEVEL SECURITY', p_table);
    IF p_policy <> 'Only the service role can read or write ' || p_table THEN
        EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I',
                       'Only the service role can read or write ' || p_table, p_table);
    END IF;
    EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I', p_policy, p_table);
    EXECUTE format('CREATE POLICY %I ON shared.%I FOR ALL TO service_role USING (true) '
                   'WITH CHECK (true)', p_policy, p_table);
END
$$;
