-- Insights, Lead Ads and the dashboard in SQL: writes through the functions, restatements,
-- conversion families, the naming convention, the webhook's dedup, syncLeadToPerson, and who may
-- do what (anon, authenticated, service_role and the GDP process roles).
BEGIN;
SELECT plan(32);

-- The naming convention: a product's id or display name as a word in the campaign's name.
SELECT is(shared._project_for_campaign_name('snapmix | Prospecting | Signup'), 'snapmix',
    'a product id at the start of the name');
SELECT is(shared._project_for_campaign_name('[SoftwareHub] Spring sale'), 'softwarehub',
    'a display name without spaces, any case');
SELECT is(shared._project_for_campaign_name('mysnapmixer promo'), NULL,
    'only whole words count');
SELECT is(shared._project_for_campaign_name('Brand awareness'), NULL,
    'no product named: unassigned until an admin maps it');

-- One purchase is reported as omni_purchase, purchase and the pixel purchase: counted once.
SELECT is(shared.meta_conversions('{"omni_purchase": 3, "purchase": 3, "offsite_conversion.fb_pixel_purchase": 3, "lead": 2, "link_click": 40}'),
    5::numeric, 'one action type per conversion family, the best-ranked present');
SELECT is(shared.meta_conversions('{"offsite_conversion.fb_pixel_purchase": 4}'), 4::numeric,
    'a lower-ranked type counts when the better ones are absent');
SELECT is(shared.meta_conversions('{"omni_purchase": 90.5, "lead": 10}', true), 90.5::numeric,
    'values count only for families whose value is revenue');

-- A pull and two pages of the same day: the second restates it.
SELECT shared.insights_begin_pull('act_1000000001', '2026-03-01', '2026-03-01', 'sync') AS pull \gset
SELECT results_eq(
    format($$SELECT rows_written, rows_restated FROM shared.insights_write_rows(%s,
        '[{"ad_id":"11","campaign_id":"10","campaign_name":"snapmix | X","date_start":"2026-03-01","date_stop":"2026-03-01","spend":"12.5","impressions":"1000","clicks":"20","actions":[{"action_type":"omni_purchase","value":"3"},{"action_type":"purchase","value":"3"}],"action_values":[{"action_type":"omni_purchase","value":"90"}]},
          {"ad_id":"12","campaign_id":"10","campaign_name":"snapmix | X","date_start":"2026-03-01","date_stop":"2026-03-01","spend":"7.5","impressions":"500","clicks":"5"}]')$$, :pull),
    $$VALUES (2, 0)$$, 'a page of two ad-days is written');
SELECT results_eq(
    format($$SELECT rows_written, rows_restated FROM shared.insights_write_rows(%s,
        '[{"ad_id":"11","campaign_id":"10","campaign_name":"snapmix | X","date_start":"2026-03-01","date_stop":"2026-03-01","spend":"13.5","impressions":"1100","clicks":"22","actions":[{"action_type":"omni_purchase","value":"4"}],"action_values":[{"action_type":"omni_purchase","value":"120"}]}]')$$, :pull),
    $$VALUES (1, 1)$$, 'the same day with new figures is a restatement');
SELECT results_eq(
    $$SELECT spend_before, spend_after, conversions_before, conversions_after FROM shared.performance_restatement$$,
    $$VALUES (12.50::numeric, 13.50::numeric, 3.00::numeric, 4.00::numeric)$$,
    'the restatement keeps both versions');
SELECT results_eq(
    $$SELECT spend, impressions, conversions, conversion_value, ads FROM shared.performance_campaign_daily$$,
    $$VALUES (21.00::numeric, 1600::bigint, 4.00::numeric, 120.00::numeric, 2)$$,
    'the campaign rollup follows the ad rows');
SELECT is((SELECT project_id FROM shared.campaign_project WHERE campaign_id = '10'), 'snapmix',
    'a new campaign gets its project by naming convention');
SELECT throws_ok(
    format($$SELECT * FROM shared.insights_write_rows(%s, '[{"ad_id":"11","campaign_id":"10","date_start":"2026-03-01","date_stop":"2026-03-07"}]')$$, :pull),
    'GD400', NULL, 'rows that are not one ad-day are refused');
SELECT lives_ok(format($$SELECT shared.insights_finish_pull(%s, 'succeeded', '{"requests": 3}')$$, :pull),
    'the pull is closed');
SELECT throws_ok(format($$SELECT * FROM shared.insights_write_rows(%s, '[]')$$, :pull), 'GD409',
    NULL, 'a closed pull takes no more rows');
SELECT results_eq($$SELECT ttl_s, enabled FROM shared.insights_cache_state()$$,
    $$VALUES (900, false)$$, 'the cache key: TTL from its settings row, the flag');

-- An admin's mapping survives renames; the convention follows them otherwise.
UPDATE shared.campaign_project SET project_id = 'vellopad', assigned_by = 'dana' WHERE campaign_id = '10';
SELECT shared.insights_begin_pull('act_1000000001', '2026-03-02', '2026-03-02', 'sync') AS pull2 \gset
SELECT lives_ok(format($$SELECT * FROM shared.insights_write_rows(%s,
    '[{"ad_id":"11","campaign_id":"10","campaign_name":"softwarehub | renamed","date_start":"2026-03-02","date_stop":"2026-03-02","spend":"1"}]')$$, :pull2));
SELECT is((SELECT project_id FROM shared.campaign_project WHERE campaign_id = '10'), 'vellopad',
    'an admin''s mapping is kept when the campaign is renamed');

-- The webhook: every change, dedup, skips; off stores nothing.
SELECT results_eq(
    $$SELECT enabled, changes, new_leads FROM shared.receive_lead_webhook('{"object":"page","entry":[{"id":"1","changes":[{"field":"leadgen","value":{"leadgen_id":"900","page_id":"1","form_id":"77"}}]}]}')$$,
    $$VALUES (false, 0, 0)$$, 'with LEAD_ADS_SYNC_ENABLED off nothing is stored');
UPDATE shared.feature_flag SET enabled = true WHERE flag_key = 'LEAD_ADS_SYNC_ENABLED';
SELECT results_eq(
    $$SELECT changes, new_leads, duplicates, skipped FROM shared.receive_lead_webhook('{"object":"page","entry":[{"id":"1","changes":[{"field":"leadgen","value":{"leadgen_id":"900","page_id":"1","form_id":"77","ad_id":"11"}},{"field":"leadgen","value":{"leadgen_id":"x"}},{"field":"feed","value":{}}]},{"id":"1","changes":[{"field":"leadgen","value":{"leadgen_id":"900","page_id":"1","form_id":"77"}}]}]}')$$,
    $$VALUES (4, 1, 1, 2)$$, 'every entry and change: one new lead, a repeat, two skipped');
SELECT is((SELECT count(*) FROM pgmq.q_meta_leads), 1::bigint, 'the new lead is queued once');
SELECT is((SELECT message FROM pgmq.q_meta_leads), '{"leadgen_id": "900"}'::jsonb,
    'the queue message carries the id only');
SELECT throws_ok($$SELECT * FROM shared.receive_lead_webhook('{"object":"user","entry":[]}')$$,
    'GD400', 'object: must be page (Lead Ads notifications)', 'not a page notification');

-- syncLeadToPerson.
SELECT msg_id AS msg FROM pgmq.q_meta_leads \gset
SELECT results_eq(
    format($$SELECT status, created, project_id FROM shared.sync_lead(%s, '{"id":"900","form_id":"77","ad_id":"11","created_time":"2026-03-01T08:49:14+0000","field_data":[{"name":"email","values":[" Lea@Example.com "]},{"name":"full_name","values":["Lea van Dam"]},{"name":"phone_number","values":["0612"]},{"name":"budget","values":["high"]}]}')$$, :msg),
    $$VALUES ('synced'::text, true, 'vellopad'::text)$$, 'the lead becomes a person of the campaign''s project');
SELECT results_eq(
    $$SELECT email, first_name, last_name, phone, utm_source, utm_medium, utm_campaign, meta_lead_form_id, properties FROM shared.person$$,
    $$VALUES ('lea@example.com'::text, 'Lea'::text, 'van Dam'::text, NULL::text, 'meta'::text, 'paid'::text, 'softwarehub | renamed'::text, '77'::text, '{"lead_answers": {"budget": "high"}}'::jsonb)$$,
    'first touch from the campaign; a phone without country code is left out, not fatal');
SELECT is((SELECT external_id FROM shared.identity_link WHERE provider = 'meta_lead'), '900',
    'the lead id is linked to the person');
SELECT is((SELECT count(*) FROM pgmq.q_meta_leads), 0::bigint, 'its message is archived');
SELECT results_eq($$SELECT status, created FROM shared.sync_lead(NULL, '{"id":"900"}')$$,
    $$VALUES ('synced'::text, false)$$, 'syncing it again changes nothing');

-- Who may do what.
SELECT tests.act_as('anon');
SELECT throws_ok($$SELECT * FROM shared.insights_daily$$, '42501', NULL, 'anon cannot read the views');
RESET ROLE;
SELECT tests.act_as('authenticated');
SELECT throws_ok($$SELECT * FROM shared.receive_lead_webhook('{}')$$, '42501', NULL,
    'authenticated cannot store deliveries');
RESET ROLE;
SET LOCAL ROLE gdp_dashboard;
SELECT lives_ok($$SELECT * FROM shared.success_metrics$$, 'the dashboard role reads the views');
SELECT throws_ok($$SELECT email FROM shared.person$$, '42501', NULL,
    'the dashboard role cannot read people');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
