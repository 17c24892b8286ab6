/**
 * People: the PRD's syncLeadToPerson, identity links, consent and erasure.
 */

/*
 * Guards every write to shared.person, including direct INSERT/UPDATE through the Supabase
 * client: normalizes email and phone, turns '' into NULL so that blanks never block a later fill,
 * keeps first-touch attribution once written, and maintains updated_at and consent_changed_at.
 * An admin correcting attribution sets `gdp.allow_attribution_rewrite = on` for the transaction.
 */
CREATE OR REPLACE FUNCTION shared._person_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_phone text;
BEGIN
    NEW.email := shared._normalize_email(NEW.email);
    IF NEW.email IS NULL THEN
        PERFORM shared._raise('GD400', 'email', 'is required');
    ELSIF NOT shared._is_valid_email(NEW.email) THEN
        PERFORM shared._raise('GD400', 'email', 'is not a valid email address');
    END IF;

    IF nullif(shared._trim(NEW.phone), '') IS NULL THEN
        NEW.phone := NULL;
    ELSE
        v_phone := shared._normalize_phone(NEW.phone);
        IF v_phone IS NULL THEN
            PERFORM shared._raise('GD400', 'phone',
                'must be E.164: a + and the country code, e.g. +14155550123');
        END IF;
        NEW.phone := v_phone;
    END IF;

    NEW.country := upper(nullif(shared._trim(NEW.country), ''));
    IF NEW.country IS NOT NULL AND NEW.country !~ '^[A-Z]{2}$' THEN
        PERFORM shared._raise('GD400', 'country', 'must be an ISO 3166-1 alpha-2 code, e.g. US');
    END IF;
    IF nullif(shared._trim(NEW.gender), '') IS NULL THEN
        NEW.gender := NULL;
    ELSE
        NEW.gender := shared._normalize_gender(NEW.gender);
        IF NEW.gender IS NULL THEN
            PERFORM shared._raise('GD400', 'gender', 'must be f or m');
        END IF;
    END IF;

    NEW.first_name := nullif(shared._trim(NEW.first_name), '');
    NEW.last_name := nullif(shared._trim(NEW.last_name), '');
    NEW.city := nullif(shared._trim(NEW.city), '');
    NEW.state := nullif(shared._trim(NEW.state), '');
    NEW.zip := nullif(shared._trim(NEW.zip), '');
    NEW.utm_source := nullif(shared._trim(NEW.utm_source), '');
    NEW.utm_medium := nullif(shared._trim(NEW.utm_medium), '');
    NEW.utm_campaign := nullif(shared._trim(NEW.utm_campaign), '');
    NEW.utm_content := nullif(shared._trim(NEW.utm_content), '');
    NEW.utm_term := nullif(shared._trim(NEW.utm_term), '');
    NEW.meta_fbp := nullif(shared._trim(NEW.meta_fbp), '');
    NEW.meta_fbc := nullif(shared._trim(NEW.meta_fbc), '');
    NEW.meta_lead_form_id := nullif(shared._trim(NEW.meta_lead_form_id), '');
    NEW.source_product := nullif(shared._trim(NEW.source_product), '');

    IF TG_OP = 'UPDATE' THEN
        IF coalesce(current_setting('gdp.allow_attribution_rewrite', true), '') <> 'on' THEN
            NEW.utm_source := coalesce(OLD.utm_source, NEW.utm_source);
            NEW.utm_medium := coalesce(OLD.utm_medium, NEW.utm_medium);
            NEW.utm_campaign := coalesce(OLD.utm_campaign, NEW.utm_campaign);
            NEW.utm_content := coalesce(OLD.utm_content, NEW.utm_content);
            NEW.utm_term := coalesce(OLD.utm_term, NEW.utm_term);
            NEW.meta_fbp := coalesce(OLD.meta_fbp, NEW.meta_fbp);
            NEW.meta_fbc := coalesce(OLD.meta_fbc, NEW.meta_fbc);
            NEW.meta_lead_form_id := coalesce(OLD.meta_lead_form_id, NEW.meta_lead_form_id);
            NEW.source_product := coalesce(OLD.source_product, NEW.source_product);
        END IF;
        NEW.id := OLD.id;
        NEW.created_at := OLD.created_at;
        IF NEW.consent_status IS DISTINCT FROM OLD.consent_status
           AND NEW.consent_changed_at IS NOT DISTINCT FROM OLD.consent_changed_at THEN
            NEW.consent_changed_at := now();
        END IF;
        -- Only a real change moves updated_at, so a resent lead leaves the row as it was; an
        -- explicit updated_at (a backfill) is kept.
        IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at AND NEW IS DISTINCT FROM OLD THEN
            NEW.updated_at := now();
        END IF;
    ELSIF NEW.consent_status <> 'unknown' AND NEW.consent_changed_at IS NULL THEN
        NEW.consent_changed_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER person_before_write
    BEFORE INSERT OR UPDATE ON shared.person
    FOR EACH ROW EXECUTE FUNCTION shared._person_before_write();

-- The keys upsert_people understands; anything else is refused rather than silently dropped.
CREATE OR REPLACE FUNCTION shared._person_input_keys()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ARRAY['email', 'phone', 'first_name', 'last_name', 'city', 'state', 'zip', 'country',
                 'date_of_birth', 'gender', 'utm_source', 'utm_medium', 'utm_campaign',
                 'utm_content', 'utm_term', 'meta_fbp', 'meta_fbc', 'meta_lead_form_id',
                 'source_product', 'lifecycle_stage', 'properties', 'identities']
$$;

/*
 * The first problem in an array of person objects, as (ordinal, field, rule), or no row when all
 * are acceptable. Set-based: one pass over the keys of every entry, plain expressions for the
 * fields, one join for products, so validating a 1,000-person call costs about as much as
 * reading it.
 */
CREATE OR REPLACE FUNCTION shared._people_input_problem(p_people jsonb)
RETURNS TABLE (ord bigint, field text, rule text)
-- plpgsql rather than sql: a SQL function this size is planned on every call (milliseconds);
-- plpgsql keeps the plan for the session.
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN QUERY
    WITH entries AS (
        SELECT e.ord, e.v, jsonb_typeof(e.v) = 'object' AS is_object
        FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    ), shape AS (
        -- Unknown keys and non-string values, found in one pass over every key.
        SELECT en.ord, f.key AS field,
               CASE WHEN f.key <> ALL (shared._person_input_keys()) THEN 'is not a person field'
                    ELSE 'must be a string' END AS rule
        FROM entries AS en
        CROSS JOIN LATERAL jsonb_each(CASE WHEN en.is_object THEN en.v ELSE '{}'::jsonb END) AS f
        WHERE f.key <> ALL (shared._person_input_keys())
           OR (f.key NOT IN ('properties', 'identities')
               AND jsonb_typeof(f.value) NOT IN ('string', 'null'))
    ), fields AS (
        SELECT en.ord, checks.problem[1] AS field, checks.problem[2] AS rule
        FROM entries AS en
        LEFT JOIN shared.product AS pr
          ON pr.product_id = shared._trim(en.v ->> 'source_product')
        CROSS JOIN LATERAL (
            SELECT shared._normalize_email(en.v ->> 'email') AS email,
                   nullif(shared._trim(en.v ->> 'phone'), '') AS phone,
                   nullif(shared._trim(en.v ->> 'lifecycle_stage'), '') AS stage,
                   upper(nullif(shared._trim(en.v ->> 'country'), '')) AS country,
                   nullif(shared._trim(en.v ->> 'gender'), '') AS gender,
                   nullif(shared._trim(en.v ->> 'date_of_birth'), '') AS dob,
                   nullif(shared._trim(en.v ->> 'source_product'), '') AS product
        ) AS x
        CROSS JOIN LATERAL (
            SELECT CASE
                WHEN x.email IS NULL THEN ARRAY['email', 'is required']
                WHEN NOT shared._is_valid_email(x.email)
                    THEN ARRAY['email', 'is not a valid email address']
                WHEN x.phone IS NOT NULL AND shared._normalize_phone(x.phone) IS NULL
                    THEN ARRAY['phone', 'must be E.164: a + and the country code, e.g. +14155550123']
                WHEN x.stage NOT IN ('lead', 'activated', 'customer', 'churned')
                    THEN ARRAY['lifecycle_stage', 'must be one of lead, activated, customer, churned']
                WHEN x.country !~ '^[A-Z]{2}$'
                    THEN ARRAY['country', 'must be an ISO 3166-1 alpha-2 code, e.g. US']
                WHEN x.gender IS NOT NULL AND shared._normalize_gender(x.gender) IS NULL
                    THEN ARRAY['gender', 'must be f or m']
                WHEN x.dob IS NOT NULL AND shared._try_iso_date(x.dob) IS NULL
                    THEN ARRAY['date_of_birth', 'must be a date as YYYY-MM-DD']
                WHEN x.product IS NOT NULL AND pr.product_id IS NULL
                    THEN ARRAY['source_product', 'is not a known product']
                WHEN en.v ? 'properties' AND jsonb_typeof(en.v -> 'properties') NOT IN ('object', 'null')
                    THEN ARRAY['properties', 'must be a JSON object']
                WHEN en.v ? 'identities' AND jsonb_typeof(en.v -> 'identities') NOT IN ('array', 'null')
                    THEN ARRAY['identities', 'must be a JSON array of {provider, external_id}']
            END AS problem
        ) AS checks
        WHERE en.is_object AND checks.problem IS NOT NULL
    ), identities AS (
        SELECT en.ord, 'identities' AS field,
               'each needs a provider (lowercase slug) and an external_id' AS rule
        FROM entries AS en
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(en.v -> 'identities') = 'array'
                 THEN en.v -> 'identities' ELSE '[]'::jsonb END) AS i(v)
        WHERE jsonb_typeof(i.v) <> 'object'
           OR coalesce(i.v ->> 'provider', '') !~ '^[a-z][a-z0-9_]{1,39}$'
           OR length(coalesce(i.v ->> 'external_id', '')) NOT BETWEEN 1 AND 255
           OR (i.v ? 'metadata' AND jsonb_typeof(i.v -> 'metadata') <> 'object')
    )
    SELECT problem.ord, problem.field, problem.rule
    FROM (
        SELECT en.ord, 0 AS stage, 'person' AS field, 'must be a JSON object' AS rule
        FROM entries AS en WHERE NOT en.is_object
        UNION ALL SELECT s.ord, 1, s.field, s.rule FROM shape AS s
        UNION ALL SELECT f.ord, 2, f.field, f.rule FROM fields AS f
        UNION ALL SELECT i.ord, 3, i.field, i.rule FROM identities AS i
    ) AS problem
    ORDER BY problem.ord, problem.stage, problem.field
    LIMIT 1;
END
$$;

/*
 * Upsert people by email, many at once (the PRD's syncLeadToPerson, set-based):
 *   - case and whitespace variants of one email are one person, within a call and across calls;
 *   - first touch is kept: attribution already written is never overwritten;
 *   - later non-empty values fill empty fields; existing values are not replaced;
 *   - lifecycle only advances (lead -> activated -> customer -> churned);
 *   - identities are linked in the same call; one that belongs to another person fails the call.
 * Any invalid entry fails the whole call with GD400 naming the entry and field: nothing written.
 * SECURITY DEFINER: products call it without any privilege on shared.person (they never read it).
 */
CREATE OR REPLACE FUNCTION shared.upsert_people(p_people jsonb)
RETURNS TABLE (ordinal integer, person_id uuid, created boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
#variable_conflict use_column
DECLARE
    v_problem record;
    v_conflict record;
BEGIN
    -- A product (role gdp_product) upserts only as itself (db/functions/15_identity.sql).
    p_people := shared._people_for_caller(p_people);
    IF p_people IS NULL OR jsonb_typeof(p_people) <> 'array' THEN
        PERFORM shared._raise('GD400', 'people', 'must be a JSON array of person objects');
    END IF;

    SELECT * INTO v_problem FROM shared._people_input_problem(p_people);
    IF FOUND THEN
        PERFORM shared._raise('GD400', v_problem.field,
            format('%s (entry %s)', v_problem.rule, v_problem.ord));
    END IF;

    RETURN QUERY
    WITH input AS (
        SELECT e.ord::integer AS ord,
               shared._normalize_email(e.v ->> 'email') AS email,
               shared._normalize_phone(nullif(shared._trim(e.v ->> 'phone'), '')) AS phone,
               nullif(shared._trim(e.v ->> 'first_name'), '') AS first_name,
               nullif(shared._trim(e.v ->> 'last_name'), '') AS last_name,
               nullif(shared._trim(e.v ->> 'city'), '') AS city,
               nullif(shared._trim(e.v ->> 'state'), '') AS state,
               nullif(shared._trim(e.v ->> 'zip'), '') AS zip,
               upper(nullif(shared._trim(e.v ->> 'country'), '')) AS country,
               shared._try_iso_date(nullif(shared._trim(e.v ->> 'date_of_birth'), '')) AS date_of_birth,
               shared._normalize_gender(nullif(shared._trim(e.v ->> 'gender'), '')) AS gender,
               nullif(shared._trim(e.v ->> 'utm_source'), '') AS utm_source,
               nullif(shared._trim(e.v ->> 'utm_medium'), '') AS utm_medium,
               nullif(shared._trim(e.v ->> 'utm_campaign'), '') AS utm_campaign,
               nullif(shared._trim(e.v ->> 'utm_content'), '') AS utm_content,
               nullif(shared._trim(e.v ->> 'utm_term'), '') AS utm_term,
               nullif(shared._trim(e.v ->> 'meta_fbp'), '') AS meta_fbp,
               nullif(shared._trim(e.v ->> 'meta_fbc'), '') AS meta_fbc,
               nullif(shared._trim(e.v ->> 'meta_lead_form_id'), '') AS meta_lead_form_id,
               nullif(shared._trim(e.v ->> 'source_product'), '') AS source_product,
               nullif(shared._trim(e.v ->> 'lifecycle_stage'), '')::shared.lifecycle_stage AS lifecycle_stage,
               CASE WHEN jsonb_typeof(e.v -> 'properties') = 'object'
                    THEN e.v -> 'properties' ELSE '{}'::jsonb END AS properties
        FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    ), merged AS (
        -- Variants of one email in one call become one row; the first non-empty value wins.
        SELECT i.email,
               min(i.ord) AS first_ord,
               (array_agg(i.phone ORDER BY i.ord) FILTER (WHERE i.phone IS NOT NULL))[1] AS phone,
               (array_agg(i.first_name ORDER BY i.ord) FILTER (WHERE i.first_name IS NOT NULL))[1] AS first_name,
               (array_agg(i.last_name ORDER BY i.ord) FILTER (WHERE i.last_name IS NOT NULL))[1] AS last_name,
               (array_agg(i.city ORDER BY i.ord) FILTER (WHERE i.city IS NOT NULL))[1] AS city,
               (array_agg(i.state ORDER BY i.ord) FILTER (WHERE i.state IS NOT NULL))[1] AS state,
               (array_agg(i.zip ORDER BY i.ord) FILTER (WHERE i.zip IS NOT NULL))[1] AS zip,
               (array_agg(i.country ORDER BY i.ord) FILTER (WHERE i.country IS NOT NULL))[1] AS country,
               (array_agg(i.date_of_birth ORDER BY i.ord) FILTER (WHERE i.date_of_birth IS NOT NULL))[1] AS date_of_birth,
               (array_agg(i.gender ORDER BY i.ord) FILTER (WHERE i.gender IS NOT NULL))[1] AS gender,
               (array_agg(i.utm_source ORDER BY i.ord) FILTER (WHERE i.utm_source IS NOT NULL))[1] AS utm_source,
               (array_agg(i.utm_medium ORDER BY i.ord) FILTER (WHERE i.utm_medium IS NOT NULL))[1] AS utm_medium,
               (array_agg(i.utm_campaign ORDER BY i.ord) FILTER (WHERE i.utm_campaign IS NOT NULL))[1] AS utm_campaign,
               (array_agg(i.utm_content ORDER BY i.ord) FILTER (WHERE i.utm_content IS NOT NULL))[1] AS utm_content,
               (array_agg(i.utm_term ORDER BY i.ord) FILTER (WHERE i.utm_term IS NOT NULL))[1] AS utm_term,
               (array_agg(i.meta_fbp ORDER BY i.ord) FILTER (WHERE i.meta_fbp IS NOT NULL))[1] AS meta_fbp,
               (array_agg(i.meta_fbc ORDER BY i.ord) FILTER (WHERE i.meta_fbc IS NOT NULL))[1] AS meta_fbc,
               (array_agg(i.meta_lead_form_id ORDER BY i.ord) FILTER (WHERE i.meta_lead_form_id IS NOT NULL))[1] AS meta_lead_form_id,
               (array_agg(i.source_product ORDER BY i.ord) FILTER (WHERE i.source_product IS NOT NULL))[1] AS source_product,
               max(i.lifecycle_stage) AS lifecycle_stage,
               shared._jsonb_fill(i.properties ORDER BY i.ord) AS properties
        FROM input AS i
        GROUP BY i.email
    ), upserted AS (
        INSERT INTO shared.person AS p (
            email, phone, first_name, last_name, city, state, zip, country, date_of_birth,
            gender, utm_source, utm_medium, utm_campaign, utm_content, utm_term, meta_fbp,
            meta_fbc, meta_lead_form_id, source_product, lifecycle_stage, properties)
        SELECT m.email, m.phone, m.first_name, m.last_name, m.city, m.state, m.zip, m.country,
               m.date_of_birth, m.gender, m.utm_source, m.utm_medium, m.utm_campaign,
               m.utm_content, m.utm_term, m.meta_fbp, m.meta_fbc, m.meta_lead_form_id,
               m.source_product, coalesce(m.lifecycle_stage, 'lead'), m.properties
        FROM merged AS m
        ORDER BY m.first_ord
        ON CONFLICT (email) DO UPDATE SET
            phone = coalesce(p.phone, excluded.phone),
            first_name = coalesce(p.first_name, excluded.first_name),
            last_name = coalesce(p.last_name, excluded.last_name),
            city = coalesce(p.city, excluded.city),
            state = coalesce(p.state, excluded.state),
            zip = coalesce(p.zip, excluded.zip),
            country = coalesce(p.country, excluded.country),
            date_of_birth = coalesce(p.date_of_birth, excluded.date_of_birth),
            gender = coalesce(p.gender, excluded.gender),
            utm_source = coalesce(p.utm_source, excluded.utm_source),
            utm_medium = coalesce(p.utm_medium, excluded.utm_medium),
            utm_campaign = coalesce(p.utm_campaign, excluded.utm_campaign),
            utm_content = coalesce(p.utm_content, excluded.utm_content),
            utm_term = coalesce(p.utm_term, excluded.utm_term),
            meta_fbp = coalesce(p.meta_fbp, excluded.meta_fbp),
            meta_fbc = coalesce(p.meta_fbc, excluded.meta_fbc),
            meta_lead_form_id = coalesce(p.meta_lead_form_id, excluded.meta_lead_form_id),
            source_product = coalesce(p.source_product, excluded.source_product),
            lifecycle_stage = greatest(p.lifecycle_stage, excluded.lifecycle_stage),
            properties = excluded.properties || p.properties
        RETURNING p.id, p.email, (p.xmax = 0) AS was_inserted
    ), linked AS (
        INSERT INTO shared.identity_link (person_id, provider, external_id, metadata)
        SELECT u.id, idn.v ->> 'provider', idn.v ->> 'external_id',
               coalesce(idn.v -> 'metadata', '{}'::jsonb)
        FROM input AS i
        JOIN upserted AS u ON u.email = i.email
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(p_people -> (i.ord - 1) -> 'identities') = 'array'
                 THEN p_people -> (i.ord - 1) -> 'identities' ELSE '[]'::jsonb END) AS idn(v)
        ORDER BY i.ord
        ON CONFLICT ON CONSTRAINT identity_link_provider_external_id_key DO NOTHING
        RETURNING 1
    )
    -- "linked" runs to completion although nothing reads it (data-modifying CTEs always do).
    SELECT i.ord, u.id, u.was_inserted
    FROM input AS i
    JOIN upserted AS u ON u.email = i.email
    ORDER BY i.ord;

    -- An identity that already belonged to someone else (or is claimed twice in this call) is
    -- refused, never silently moved; raising here rolls the whole call back.
    SELECT e.ord, idn.v ->> 'provider' AS provider, l.person_id AS owner INTO v_conflict
    FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(e.v -> 'identities') = 'array'
             THEN e.v -> 'identities' ELSE '[]'::jsonb END) AS idn(v)
    JOIN shared.person AS p ON p.email = shared._normalize_email(e.v ->> 'email')
    JOIN shared.identity_link AS l
      ON l.provider = idn.v ->> 'provider' AND l.external_id = idn.v ->> 'external_id'
    WHERE l.person_id <> p.id
    ORDER BY e.ord
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD409', 'identities',
            format('the %s identity is already linked to another person (%s) (entry %s)',
                   v_conflict.provider, v_conflict.owner, v_conflict.ord));
    END IF;
END
$$;
COMMENT ON FUNCTION shared.upsert_people(jsonb) IS
    'Upsert people by email, many at once (the PRD''s syncLeadToPerson): case variants are one person, first touch kept, empty fields filled, lifecycle only advances, identities linked; an invalid entry fails the call (GD400) naming entry and field.';

-- One person, with named arguments (the PostgREST RPC shape). Returns the person's id.
CREATE OR REPLACE FUNCTION shared.upsert_person(
    p_email text,
    p_phone text DEFAULT NULL,
    p_first_name text DEFAULT NULL,
    p_last_name text DEFAULT NULL,
    p_utm_source text DEFAULT NULL,
    p_utm_medium text DEFAULT NULL,
    p_utm_campaign text DEFAULT NULL,
    p_utm_content text DEFAULT NULL,
    p_utm_term text DEFAULT NULL,
    p_meta_fbp text DEFAULT NULL,
    p_meta_fbc text DEFAULT NULL,
    p_meta_lead_form_id text DEFAULT NULL,
    p_source_product text DEFAULT NULL,
    p_lifecycle_stage text DEFAULT NULL,
    p_properties jsonb DEFAULT NULL,
    p_identities jsonb DEFAULT NULL
)
RETURNS uuid
LANGUAGE sql
AS $$
    SELECT u.person_id
    FROM shared.upsert_people(jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
        'email', p_email, 'phone', p_phone, 'first_name', p_first_name,
        'last_name', p_last_name, 'utm_source', p_utm_source, 'utm_medium', p_utm_medium,
        'utm_campaign', p_utm_campaign, 'utm_content', p_utm_content, 'utm_term', p_utm_term,
        'meta_fbp', p_meta_fbp, 'meta_fbc', p_meta_fbc,
        'meta_lead_form_id', p_meta_lead_form_id, 'source_product', p_source_product,
        'lifecycle_stage', p_lifecycle_stage, 'properties', p_properties,
        'identities', p_identities)))) AS u
$$;
COMMENT ON FUNCTION shared.upsert_person(text, text, text, text, text, text, text, text, text, text, text, text, text, text, jsonb, jsonb) IS
    'Upsert one person with named arguments (the PostgREST RPC shape), by the rules of upsert_people; returns the person''s id.';

/*
 * Link an identity to a person. Linking it again to the same person is a no-op; a link that
 * belongs to another person is refused (GD409), never moved.
 */
CREATE OR REPLACE FUNCTION shared.link_identity(
    p_person_id uuid,
    p_provider text,
    p_external_id text,
    p_metadata jsonb DEFAULT '{}'::jsonb
)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
    v_link shared.identity_link;
BEGIN
    IF coalesce(p_provider, '') !~ '^[a-z][a-z0-9_]{1,39}$' THEN
        PERFORM shared._raise('GD400', 'provider', 'must be a lowercase slug such as stripe');
    END IF;
    IF length(coalesce(p_external_id, '')) NOT BETWEEN 1 AND 255 THEN
        PERFORM shared._raise('GD400', 'external_id', 'must be 1 to 255 characters');
    END IF;
    IF p_metadata IS NOT NULL AND jsonb_typeof(p_metadata) <> 'object' THEN
        PERFORM shared._raise('GD400', 'metadata', 'must be a JSON object');
    END IF;
    PERFORM 1 FROM shared.person WHERE id = p_person_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;

    INSERT INTO shared.identity_link (person_id, provider, external_id, metadata)
    VALUES (p_person_id, p_provider, p_external_id, coalesce(p_metadata, '{}'::jsonb))
    ON CONFLICT ON CONSTRAINT identity_link_provider_external_id_key DO NOTHING
    RETURNING * INTO v_link;
    IF FOUND THEN
        RETURN v_link.id;
    END IF;

    SELECT * INTO v_link FROM shared.identity_link
    WHERE provider = p_provider AND external_id = p_external_id;
    IF v_link.person_id <> p_person_id THEN
        PERFORM shared._raise('GD409', 'external_id',
            format('the %s identity is already linked to another person (%s)',
                   p_provider, v_link.person_id));
    END IF;
    RETURN v_link.id;
END
$$;
COMMENT ON FUNCTION shared.link_identity(uuid, text, text, jsonb) IS
    'Link an external identity (provider, external id) to a person; again to the same person is a no-op, to another person is refused (GD409). Returns the link''s id.';

/*
 * Record a consent change. Every call is logged; the person's current state follows the most
 * recent change by its own time, so a late-arriving older signal never overrides a newer one.
 */
CREATE OR REPLACE FUNCTION shared.record_consent(
    p_person_id uuid,
    p_status text,
    p_source text,
    p_changed_at timestamptz DEFAULT now()
)
RETURNS shared.consent_status
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_status shared.consent_status;
    v_current shared.person;
BEGIN
    IF coalesce(p_status, '') <> ALL (enum_range(NULL::shared.consent_status)::text[]) THEN
        PERFORM shared._raise('GD400', 'status', 'must be one of granted, withdrawn, unknown');
    END IF;
    IF nullif(shared._trim(p_source), '') IS NULL THEN
        PERFORM shared._raise('GD400', 'source', 'is required (where the consent was given)');
    END IF;
    v_status := p_status::shared.consent_status;

    SELECT * INTO v_current FROM shared.person WHERE id = p_person_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;

    INSERT INTO shared.consent_log (person_id, status, source, changed_at)
    VALUES (p_person_id, v_status, shared._trim(p_source), coalesce(p_changed_at, now()));

    IF v_current.consent_changed_at IS NULL
       OR coalesce(p_changed_at, now()) >= v_current.consent_changed_at THEN
        UPDATE shared.person
        SET consent_status = v_status, consent_changed_at = coalesce(p_changed_at, now())
        WHERE id = p_person_id;
        RETURN v_status;
    END IF;
    RETURN v_current.consent_status;
END
$$;
COMMENT ON FUNCTION shared.record_consent(uuid, text, text, timestamp with time zone) IS
    'Record a consent change (logged); the person''s state follows the most recent change by its own time. A withdrawal waits for a Conversions API request in flight for the person.';

-- Move a person along the lifecycle explicitly, including back (e.g. churned -> customer).
CREATE OR REPLACE FUNCTION shared.set_lifecycle_stage(p_person_id uuid, p_stage text)
RETURNS shared.lifecycle_stage
LANGUAGE plpgsql
AS $$
BEGIN
    IF coalesce(p_stage, '') <> ALL (enum_range(NULL::shared.lifecycle_stage)::text[]) THEN
        PERFORM shared._raise('GD400', 'lifecycle_stage',
            'must be one of lead, activated, customer, churned');
    END IF;
    UPDATE shared.person SET lifecycle_stage = p_stage::shared.lifecycle_stage
    WHERE id = p_person_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;
    RETURN p_stage::shared.lifecycle_stage;
END
$$;
COMMENT ON FUNCTION shared.set_lifecycle_stage(uuid, text) IS
    'Move a person to a lifecycle stage explicitly, backwards too (e.g. churned -> customer).';

/*
 * What deleting a person takes along (erase_person below, or a DELETE by hand): their events go
 * and their delivery records stay without a person; identity links and the consent log go by
 * their foreign keys. shared.event and shared.attribution_events have no foreign key to
 * shared.person (per-row key checks were most of the insert cost; migration
 * 20261128000006_event_write_path), so this statement-level trigger does what ON DELETE CASCADE
 * and SET NULL did, once per DELETE.
 */
CREATE OR REPLACE FUNCTION shared._person_after_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM shared.event AS e USING old_people AS o WHERE e.person_id = o.id;
    UPDATE shared.attribution_events AS a SET person_id = NULL
    FROM old_people AS o WHERE a.person_id = o.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER person_after_delete
    AFTER DELETE ON shared.person
    REFERENCING OLD TABLE AS old_people
    FOR EACH STATEMENT EXECUTE FUNCTION shared._person_after_delete();

/*
 * What else carries the erased person's Meta hashes. No other person: emails are stored in
 * Meta's form (_normalize_email, the person trigger, and migration 20261202200001 for rows
 * stored before), and one form is one person, so the Meta hash of an email names one row. But
 * events stored without a person may hold the em or ph hash in meta_user_data (the HTTP path
 * keeps the hashes there; a product may write them): those go, so nothing is sent to Meta under
 * the erased person's hashes afterwards. Containment (@>) matches one hash and a list of them.
 * It reads every event that has meta_user_data (no index: one would cost every insert); an
 * erasure is rare and takes no lock that blocks inserts. Returns how many events went.
 */
CREATE OR REPLACE FUNCTION shared._erase_by_meta_hash(p_email_sha256 text, p_phone_sha256 text)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_events bigint;
BEGIN
    DELETE FROM shared.event AS e
    WHERE e.meta_user_data <> '{}'::jsonb
      AND (e.meta_user_data -> 'em' @> to_jsonb(p_email_sha256)
           OR (p_phone_sha256 IS NOT NULL AND e.meta_user_data -> 'ph' @> to_jsonb(p_phone_sha256)));
    GET DIAGNOSTICS v_events = ROW_COUNT;
    RETURN v_events;
END
$$;

/*
 * Erase a person (GDPR): the person, their identity links, consent log and events go; delivery
 * records keep their ids with person_id cleared; an erasure record keeps only Meta-format hashes
 * of email and phone so later audience syncs can remove them from Meta. Everything else whose
 * Meta hash equals the person's goes too (_erase_by_meta_hash).
 */
CREATE OR REPLACE FUNCTION shared.erase_person(
    p_person_id uuid,
    p_requested_by text,
    p_reason text DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_person shared.person;
    v_erasure_id bigint;
BEGIN
    IF nullif(shared._trim(p_requested_by), '') IS NULL THEN
        PERFORM shared._raise('GD400', 'requested_by', 'is required (who asked for the erasure)');
    END IF;
    DELETE FROM shared.person WHERE id = p_person_id RETURNING * INTO v_person;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;
    INSERT INTO shared.erasure (person_id, email_sha256, phone_sha256, requested_by, reason)
    VALUES (v_person.id,
            shared._sha256_hex(v_person.email),
            shared._sha256_hex(shared._meta_phone_digits(v_person.phone)),
            shared._trim(p_requested_by), p_reason)
    RETURNING id INTO v_erasure_id;
    PERFORM shared._erase_by_meta_hash(shared._sha256_hex(v_person.email),
                                       shared._sha256_hex(shared._meta_phone_digits(v_person.phone)));
    RETURN v_erasure_id;
END
$$;
COMMENT ON FUNCTION shared.erase_person(uuid, text, text) IS
    'Erase a person (GDPR): the person, identity links, consent log and events go, delivery records lose the person; an erasure record keeps only Meta-format hashes of email and phone for audience removal. Returns the erasure id.';

CREATE OR REPLACE FUNCTION shared.erase_person_by_email(
    p_email text,
    p_requested_by text,
    p_reason text DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_person_id uuid;
BEGIN
    SELECT id INTO v_person_id FROM shared.person WHERE email = shared._normalize_email(p_email);
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'email', 'no person with this email');
    END IF;
    RETURN shared.erase_person(v_person_id, p_requested_by, p_reason);
END
$$;
COMMENT ON FUNCTION shared.erase_person_by_email(text, text, text) IS
    'erase_person for the person with this email (normalized as stored).';
