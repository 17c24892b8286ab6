// The browser snippet's click-id rule against the shared golden vectors (tests/golden/fbc.json),
// the same file the Python rules (workers/meta/fbc.py) are tested with.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { fbclidOf } from '../meta-pixel.js';

const GOLDEN = JSON.parse(
  readFileSync(new URL('../../../tests/golden/fbc.json', import.meta.url), 'utf8'),
);

test('fbclid from the landing URL: the golden verdicts, case kept', () => {
  for (const { fbclid, valid } of GOLDEN.fbclid) {
    const url = `https://shop.example/landing?utm_source=fb&fbclid=${encodeURIComponent(fbclid)}`;
    assert.equal(fbclidOf(url), valid ? fbclid : null, fbclid.slice(0, 40));
  }
  assert.equal(fbclidOf('https://shop.example/landing'), null);
});

const EVENT_IDS = JSON.parse(
  readFileSync(new URL('../../../tests/golden/meta_event_id.json', import.meta.url), 'utf8'),
);

test('the Pixel eventID is the id GDP sends to the Conversions API: the golden vectors', async () => {
  const { metaEventId } = await import('../meta-pixel.js');
  assert.ok(EVENT_IDS.cases.length >= 5);
  for (const c of EVENT_IDS.cases) {
    assert.equal(metaEventId(c.product_id, c.event_id), c.meta_event_id, c.note ?? c.event_id);
  }
});
