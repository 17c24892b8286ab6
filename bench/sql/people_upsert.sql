-- name: naive_upsert_people
-- Baseline: a plain INSERT ... ON CONFLICT of already-clean rows into the same table (trigger
-- on), what an application would write by hand: no validation, no merging of variants inside
-- a batch, no first-touch rules beyond COALESCE, no identity conflict check.
WITH rows AS (
    SELECT * FROM jsonb_to_recordset(%(people)s::jsonb)
        AS r(email text, phone text, first_name text, last_name text, utm_source text,
             utm_campaign text, source_product text, identities jsonb)
), upserted AS (
    INSERT INTO shared.person AS p (email, phone, first_name, last_name, utm_source,
                                    utm_campaign, source_product)
    SELECT lower(email), phone, first_name, last_name, utm_source, utm_campaign, source_product
    FROM rows
    ON CONFLICT (email) DO UPDATE SET
        phone = coalesce(p.phone, excluded.phone),
        first_name = coalesce(p.first_name, excluded.first_name),
        last_name = coalesce(p.last_name, excluded.last_name)
    RETURNING p.id, p.email
)
INSERT INTO shared.identity_link (person_id, provider, external_id)
SELECT u.id, i.v ->> 'provider', i.v ->> 'external_id'
FROM rows AS r
JOIN upserted AS u ON u.email = lower(r.email)
CROSS JOIN LATERAL jsonb_array_elements(r.identities) AS i(v)
ON CONFLICT DO NOTHING;

-- name: sql_api_upsert_people
SELECT count(*) AS n FROM shared.upsert_people(%(people)s::jsonb);

-- name: reset_people
TRUNCATE shared.person, shared.identity_link CASCADE;
