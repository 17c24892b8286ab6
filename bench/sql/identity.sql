-- name: insert_events
-- A product's bulk insert through the Supabase client: one statement, with typical properties.
INSERT INTO shared.event (product_id, event_id, event_name, person_id, client_ip_address,
                          client_user_agent, event_source_url, properties)
SELECT r.product_id, r.event_id, 'Signup', r.person_id, '203.0.113.7',
       'Mozilla/5.0 (bench)', 'https://example.com/signup',
       jsonb_build_object('plan', 'pro', 'value', 12.5, 'currency', 'USD',
                          'items', jsonb_build_array(jsonb_build_object('sku', 'a1', 'qty', 2)),
                          'page', 'https://example.com/pricing?ref=' || r.event_id)
FROM unnest(%(products)s::text[], %(event_ids)s::text[], %(person_ids)s::uuid[])
     AS r(product_id, event_id, person_id);

-- name: properties_check_off
ALTER TABLE shared.event DISABLE TRIGGER event_check_properties;

-- name: properties_check_on
ALTER TABLE shared.event ENABLE TRIGGER event_check_properties;
