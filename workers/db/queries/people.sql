-- name: upsert_people
SELECT ordinal, person_id, created FROM shared.upsert_people(%(people)s::jsonb);

-- name: stitched_people
-- People with their identity links, for the demo and `gdp people list`; newest first.
SELECT p.id, p.email, p.phone, p.first_name, p.last_name, p.source_product,
       p.utm_source, p.utm_campaign, p.lifecycle_stage::text AS lifecycle_stage,
       p.consent_status::text AS consent_status,
       coalesce(array_agg(l.provider || ':' || l.external_id ORDER BY l.provider, l.external_id)
                FILTER (WHERE l.id IS NOT NULL), '{}') AS identities
FROM shared.person AS p
LEFT JOIN shared.identity_link AS l ON l.person_id = p.id
GROUP BY p.id
ORDER BY p.created_at DESC, p.email
LIMIT %(limit)s;

-- name: record_consent
SELECT shared.record_consent(%(person_id)s::uuid, %(status)s, %(source)s) AS consent_status;

-- name: erase_person_by_email
SELECT shared.erase_person_by_email(%(email)s, %(requested_by)s, %(reason)s) AS erasure_id;

-- name: demo_person_ids
SELECT id FROM shared.person ORDER BY email;
