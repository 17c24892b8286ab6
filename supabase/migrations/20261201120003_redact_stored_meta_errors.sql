-- migrate:up

/**
 * Meta's error messages are redacted before they are stored from now on (workers/errors.py);
 * this cleans what was stored before: a Graph 190 message can quote the access token
 * ("Malformed access token EAAB..."). The same patterns as workers/errors.py, applied once.
 * Row locks only, on the few rows that match; inserts go on.
 */

SET LOCAL lock_timeout = '5s';

CREATE FUNCTION pg_temp.redact(p_text text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(p_text,
        '\mEAA[A-Za-z0-9_\-]{8,}', '[redacted]', 'g'),
        '\m[0-9]{5,}\|[A-Za-z0-9_\-]{16,}', '[redacted]', 'g'),
        '\m((access_token|appsecret_proof|client_secret|input_token|fb_exchange_token)["'']?\s*[=:]\s*["'']?)[^\s&"'',;]+',
        '\1[redacted]', 'gi'),
        '\m((bearer|oauth)\s+)(?=[A-Za-z._~+/=\-]*[0-9])[A-Za-z0-9._~+/=\-]{8,}', '\1[redacted]', 'gi')
$$;

UPDATE shared.attribution_events SET error_message = pg_temp.redact(error_message)
WHERE error_message IS NOT NULL AND error_message <> pg_temp.redact(error_message);
UPDATE shared.capi_dead_letter SET error_message = pg_temp.redact(error_message)
WHERE error_message IS NOT NULL AND error_message <> pg_temp.redact(error_message);
UPDATE shared.capi_pixel_state SET last_error_message = pg_temp.redact(last_error_message)
WHERE last_error_message IS NOT NULL AND last_error_message <> pg_temp.redact(last_error_message);

-- migrate:down
