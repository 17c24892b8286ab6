-- name: relay_config
-- What one product's browser relay obeys (GAP-005), in one call: the global flag, the product's
-- own switch (setting META_CAPI_RELAY_PRODUCT_ENABLED, absent = off) and the events it may
-- forward as {browser name: Meta name}; a product's own row wins over an every-product row.
SELECT shared.is_enabled('META_CAPI_RELAY_ENABLED') AS relay_enabled,
       EXISTS (SELECT 1 FROM shared.product AS p WHERE p.product_id = %(product_id)s)
           AS known_product,
       coalesce(
           (shared.setting_value('META_CAPI_RELAY_PRODUCT_ENABLED', %(product_id)s) #>> '{}')::boolean,
           false
       ) AS product_enabled,
       coalesce(
           (SELECT jsonb_object_agg(e.event_name, e.meta_event_name)
            FROM (SELECT DISTINCT ON (pe.event_name) pe.event_name, pe.meta_event_name
                  FROM shared.product_event AS pe
                  WHERE pe.product_id = %(product_id)s OR pe.product_id IS NULL
                  ORDER BY pe.event_name, pe.product_id NULLS LAST) AS e),
           '{}'::jsonb
       ) AS events;
