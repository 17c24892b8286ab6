-- migrate:up

/**
 * The browser relay's configuration (GAP-005): which events each product's pages may send
 * through POST /api/tracking/meta-event, under which Meta event name, and a per-product switch
 * on top of the global META_CAPI_RELAY_ENABLED flag.
 *
 * A row with product_id NULL holds for every product: Meta's standard events. A product's own
 * row wins over an every-product row for the same event name. The relay forwards an event under
 * meta_event_name; the Pixel must fire that same name with the same eventID for Meta to
 * deduplicate the two (clients/web: the snippet's `events` option maps product names to it).
 */

CREATE TABLE shared.product_event (
    product_event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL: every product (Meta's standard events).
    product_id       text REFERENCES shared.product (product_id) ON DELETE CASCADE,
    -- The name the product's page tracks (trackEvent(name)).
    event_name       text NOT NULL
                     CONSTRAINT product_event_event_name_format
                     CHECK (event_name ~ '^[A-Za-z][A-Za-z0-9_]{0,49}$'),
    -- The name the event is sent to Meta under, by the Pixel and by the server alike.
    meta_event_name  text NOT NULL
                     CONSTRAINT product_event_meta_event_name_format
                     CHECK (meta_event_name ~ '^[A-Za-z][A-Za-z0-9_]{0,49}$'),
    description      text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX product_event_product_event_key
    ON shared.product_event (coalesce(product_id, '*'), event_name);
COMMENT ON TABLE shared.product_event IS
    'Events a product''s pages may send through the relay (GAP-005), and their Meta event names.';

-- Meta's standard events (Pixel `fbq('track', ...)` names), allowed for every product.
INSERT INTO shared.product_event (product_id, event_name, meta_event_name, description)
SELECT NULL, name, name, 'Meta standard event'
FROM unnest(ARRAY[
    'AddPaymentInfo', 'AddToCart', 'AddToWishlist', 'CompleteRegistration', 'Contact',
    'CustomizeProduct', 'Donate', 'FindLocation', 'InitiateCheckout', 'Lead', 'PageView',
    'Purchase', 'Schedule', 'Search', 'StartTrial', 'SubmitApplication', 'Subscribe',
    'ViewContent'
]) AS name;

-- The PRD's key events per product; Meta names as in the conversion rules (GAP-002 table).
INSERT INTO shared.product_event (product_id, event_name, meta_event_name, description) VALUES
    ('snapmix',       'Signup',          'Lead',            'Account created'),
    ('snapmix',       'SnapCreated',     'SnapCreated',     'Snap created (custom event)'),
    ('snapmix',       'ProUpgrade',      'Purchase',        'Pro upgrade'),
    ('softwarehub',   'Signup',          'Lead',            'Account created'),
    ('softwarehub',   'CourseEnroll',    'Subscribe',       'Course enrolled'),
    ('softwarehub',   'Purchase',        'Purchase',        'Purchase'),
    ('velvethold',    'Signup',          'Lead',            'Account created'),
    ('velvethold',    'DateReserved',    'Schedule',        'Date reserved'),
    ('velvethold',    'Upgrade',         'Purchase',        'Upgrade'),
    ('steadyletters', 'Signup',          'Lead',            'Account created'),
    ('steadyletters', 'LetterSent',      'Purchase',        'Letter sent'),
    ('steadyletters', 'Purchase',        'Purchase',        'Purchase'),
    ('blogcanvas',    'Signup',          'Lead',            'Account created'),
    ('blogcanvas',    'PostPublished',   'PostPublished',   'Post published (custom event)'),
    ('vellopad',      'Signup',          'Lead',            'Account created'),
    ('vellopad',      'BookPublished',   'BookPublished',   'Book published (custom event)'),
    ('gapradar',      'Signup',          'Lead',            'Account created'),
    ('gapradar',      'ReportGenerated', 'ReportGenerated', 'Report generated (custom event)');

-- Each product's relay is switched on on its own (`gdp settings set
-- META_CAPI_RELAY_PRODUCT_ENABLED true --product snapmix`), on top of the global flag; absent
-- means off. Audited like every setting.
INSERT INTO shared.setting_definition
    (setting_key, description, value_type, value_pattern, min_value, max_value, per_product)
VALUES
    ('META_CAPI_RELAY_PRODUCT_ENABLED',
     'This product''s browser relay (/api/tracking/meta-event) forwards events; needs META_CAPI_RELAY_ENABLED',
     'boolean', NULL, NULL, NULL, true);

-- migrate:down
