-- migrate:up
-- Emails in Meta's form, one person per form (issue 12 §3). Until now shared._normalize_email
-- only trimmed and lower-cased, while the hashing normalizer also applies NFC: an address typed
-- in NFD and the same one in NFC were two people, and erasing one left the other, whose events
-- went to Meta under the erased person's email hash. The release that comes with this migration
-- makes _normalize_email apply Meta's exact rule (_meta_strip, NFC, ICU lower-casing); this
-- migration brings the rows stored before it into that form:
--   - people whose emails have one Meta form are merged into the oldest of them (the survivor):
--     their events, identity links, consent log, delivery records, leads and segment
--     memberships move to it, and a withdrawal by any of them is a withdrawal of the survivor
--     (consent wins); the others are deleted (not erased: they are the same human, who stays);
--   - the survivor, and every other person not in that form, gets the Meta form.
-- Online: only the rows concerned are locked (row locks, no table lock beyond what UPDATE and
-- DELETE take, which inserts do not wait for), in batches of 200 survivors; lock_timeout keeps
-- a blocked deploy from stalling writers (gdp db up retries it). The rule is spelled out here,
-- not called: migrations run before the release that carries the function.
SET lock_timeout = '2s';

CREATE TEMPORARY TABLE email_form ON COMMIT DROP AS
SELECT p.id, p.created_at, p.email,
       nullif(lower(normalize(btrim(btrim(btrim(p.email,
           U&'\0009\000A\000B\000C\000D\001C\001D\001E\001F\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000'),
           U&'\200B\200C\200D\200E\200F\2060\FEFF'),
           U&'\0009\000A\000B\000C\000D\001C\001D\001E\001F\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000'),
           NFC) COLLATE "und-x-icu"), '') AS form
FROM shared.person AS p
-- Already in the form: ASCII emails the old rule stored are (trim + lower is the whole rule).
WHERE p.email !~ '^[\x21-\x7e]*$';

-- Every person whose form is shared with another row (ASCII rows included), or who is not in it.
CREATE TEMPORARY TABLE email_twin ON COMMIT DROP AS
WITH forms AS (
    SELECT f.id, f.created_at, f.form FROM email_form AS f WHERE f.form IS NOT NULL
    UNION ALL
    SELECT p.id, p.created_at, p.email FROM shared.person AS p
    WHERE p.email IN (SELECT f.form FROM email_form AS f)
), ranked AS (
    SELECT DISTINCT ON (fo.id) fo.id, fo.form,
           first_value(fo.id) OVER (PARTITION BY fo.form ORDER BY fo.created_at, fo.id) AS survivor
    FROM forms AS fo
)
SELECT r.id, r.form, r.survivor,
       dense_rank() OVER (ORDER BY r.survivor) AS survivor_no
FROM ranked AS r;

DO $$
DECLARE
    v_batch constant integer := 200;
    v_from integer := 0;
    v_last integer;
BEGIN
    SELECT coalesce(max(t.survivor_no), 0) INTO v_last FROM email_twin AS t;
    WHILE v_from < v_last LOOP
        -- The twins of this batch (not the survivors themselves).
        CREATE TEMPORARY TABLE merging ON COMMIT DROP AS
        SELECT t.id, t.survivor, t.form FROM email_twin AS t
        WHERE t.survivor_no > v_from AND t.survivor_no <= v_from + v_batch;

        UPDATE shared.event AS e SET person_id = m.survivor
        FROM merging AS m WHERE e.person_id = m.id AND m.id <> m.survivor;
        UPDATE shared.identity_link AS l SET person_id = m.survivor
        FROM merging AS m WHERE l.person_id = m.id AND m.id <> m.survivor;
        UPDATE shared.consent_log AS c SET person_id = m.survivor
        FROM merging AS m WHERE c.person_id = m.id AND m.id <> m.survivor;
        UPDATE shared.attribution_events AS a SET person_id = m.survivor
        FROM merging AS m WHERE a.person_id = m.id AND m.id <> m.survivor;
        UPDATE shared.meta_lead AS l SET person_id = m.survivor
        FROM merging AS m WHERE l.person_id = m.id AND m.id <> m.survivor;
        INSERT INTO shared.segment_member (segment_id, person_id, joined_at)
        SELECT s.segment_id, m.survivor, min(s.joined_at)
        FROM shared.segment_member AS s JOIN merging AS m ON s.person_id = m.id
        WHERE m.id <> m.survivor
        GROUP BY s.segment_id, m.survivor
        ON CONFLICT (segment_id, person_id) DO NOTHING;

        -- Consent wins: a twin's withdrawal (the latest, if several) becomes the survivor's.
        CREATE TEMPORARY TABLE withdrawn ON COMMIT DROP AS
        SELECT m.survivor, max(tw.consent_changed_at) AS changed_at
        FROM merging AS m JOIN shared.person AS tw ON tw.id = m.id
        WHERE m.id <> m.survivor AND tw.consent_status = 'withdrawn'
        GROUP BY m.survivor;

        -- The twins go first (their rows now reference nothing; segment memberships cascade),
        -- so the survivor can take the form they shared.
        DELETE FROM shared.person AS p USING merging AS m
        WHERE p.id = m.id AND m.id <> m.survivor;
        UPDATE shared.person AS p
        SET email = m.form,
            consent_status = CASE WHEN w.survivor IS NULL THEN p.consent_status
                                  ELSE 'withdrawn' END,
            consent_changed_at = CASE WHEN w.survivor IS NULL OR p.consent_status = 'withdrawn'
                                      THEN p.consent_changed_at
                                      ELSE greatest(p.consent_changed_at, w.changed_at) END
        FROM merging AS m
        LEFT JOIN withdrawn AS w ON w.survivor = m.id
        WHERE p.id = m.survivor AND m.id = m.survivor
          AND (p.email IS DISTINCT FROM m.form
               OR (w.survivor IS NOT NULL AND p.consent_status <> 'withdrawn'));

        DROP TABLE withdrawn;
        DROP TABLE merging;
        v_from := v_from + v_batch;
    END LOOP;
END
$$;

-- migrate:down
