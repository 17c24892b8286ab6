// node --test clients/web/test/  (no dependencies: a tiny fake browser, see fake-browser.mjs)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

import { freshSnippet, installFakeBrowser } from './fake-browser.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PIXEL = '1234567890';
const PRODUCT = 'snapmix';
let browser = null;

function open(options) {
  browser = installFakeBrowser(options);
  return browser;
}

afterEach(() => {
  browser?.restore();
  browser = null;
});

test('inactive unless enabled with a pixel id and a product id: nothing loaded, fired, stored or sent', async () => {
  for (const options of [
    { pixelId: PIXEL },
    { pixelId: PIXEL, enabled: 'true' },
    { enabled: true },
    { enabled: true, pixelId: 'abc', productId: PRODUCT },
    { enabled: true, pixelId: PIXEL },
    { enabled: true, pixelId: PIXEL, productId: 'Snap:Mix' },
  ]) {
    const page = open({ url: 'https://www.shop.example.com/?fbclid=AbC', fbq: 'record' });
    const pixel = await freshSnippet();
    assert.deepEqual(pixel.initPixel(options), { active: false, consent: true });
    assert.equal(pixel.trackEvent('Purchase', { value: 1, currency: 'USD' }), null);
    pixel.setConsent(true);
    assert.equal(pixel.isActive(), false);
    assert.deepEqual(page.fbqCalls, []);
    assert.deepEqual(page.beacons, []);
    assert.deepEqual(page.cookieWrites, []);
    assert.deepEqual(page.scripts, []);
    page.restore();
  }
});

test('one event id for the Pixel (namespaced by the product) and the relay', async () => {
  const page = open({ url: 'https://www.shop.example.com/pricing', fbq: 'record' });
  const pixel = await freshSnippet();
  assert.deepEqual(pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true }), {
    active: true,
    consent: true,
  });
  assert.deepEqual(page.fbqCalls, [['init', PIXEL], ['track', 'PageView']]);

  const params = { value: 29, currency: 'USD', content_ids: ['pro'] };
  const id = pixel.trackEvent('Purchase', params);
  assert.match(id, UUID);
  assert.deepEqual(page.fbqCalls[2], ['track', 'Purchase', params, { eventID: `${PRODUCT}:${id}` }]);
  const [beacon] = await page.beaconBodies();
  assert.equal(page.beacons[0].url, '/api/tracking/meta-event');
  assert.equal(beacon.type, 'application/json');
  assert.deepEqual(beacon.body, {
    event_name: 'Purchase',
    event_id: id,
    event_source_url: 'https://www.shop.example.com/pricing',
    custom_data: params,
  });

  // Custom events go through trackCustom; product names map to their Meta names.
  const pixel2 = await freshSnippet();
  page.fbqCalls.length = 0;
  pixel2.initPixel({
    pixelId: PIXEL,
    productId: PRODUCT,
    enabled: true,
    relayUrl: '/relay',
    events: { ProUpgrade: 'Purchase', Signup: 'Lead' },
  });
  const snap = pixel2.trackEvent('SnapCreated');
  const upgrade = pixel2.trackEvent('ProUpgrade', { value: 9, currency: 'EUR' });
  assert.deepEqual(page.fbqCalls.slice(2), [
    ['trackCustom', 'SnapCreated', {}, { eventID: `${PRODUCT}:${snap}` }],
    ['track', 'Purchase', { value: 9, currency: 'EUR' }, { eventID: `${PRODUCT}:${upgrade}` }],
  ]);
  const bodies = (await page.beaconBodies()).slice(1).map((b) => b.body);
  assert.deepEqual(
    bodies.map((b) => [b.event_name, b.event_id]),
    [
      ['SnapCreated', snap],
      ['Purchase', upgrade],
    ],
  );
  assert.equal(page.beacons[1].url, '/relay');
  assert.notEqual(snap, upgrade);
  // Names Meta would refuse are not sent anywhere.
  assert.equal(pixel2.trackEvent('not valid!'), null);
  assert.equal(pixel2.trackEvent(42), null);
  assert.equal(page.beacons.length, 3);
});

test('consent required: nothing before it, PageView after it, withdrawal stops both paths', async () => {
  const page = open({ url: 'https://www.shop.example.com/?fbclid=IwAR_Landing-1' });
  const pixel = await freshSnippet();
  const options = {
    pixelId: PIXEL,
    productId: PRODUCT,
    enabled: true,
    requireConsent: true,
    scriptUrl: '/fbevents-standin.js',
  };
  assert.deepEqual(pixel.initPixel(options), { active: true, consent: false });
  assert.equal(pixel.trackEvent('Purchase', { value: 1, currency: 'USD' }), null);
  assert.equal(pixel.isActive(), false);
  assert.equal(typeof globalThis.fbq, 'undefined');
  assert.deepEqual(page.scripts, []);
  assert.deepEqual(page.beacons, []);
  assert.deepEqual(page.cookieWrites, []); // not even the _fbc cookie

  pixel.setConsent(true);
  assert.equal(pixel.isActive(), true);
  assert.deepEqual(page.scripts, ['/fbevents-standin.js']);
  // Meta's stub queues calls until its script arrives.
  assert.deepEqual(
    globalThis.fbq.queue.map((args) => [...args]),
    [['consent', 'grant'], ['init', PIXEL], ['track', 'PageView']],
  );
  assert.match(page.cookie('_fbc').value, /^fb\.1\.\d{13}\.IwAR_Landing-1$/);
  const id = pixel.trackEvent('Purchase', { value: 1, currency: 'USD' });
  assert.match(id, UUID);
  assert.equal(page.beacons.length, 1);

  pixel.setConsent(false);
  assert.deepEqual([...globalThis.fbq.queue.at(-1)], ['consent', 'revoke']);
  const queued = globalThis.fbq.queue.length;
  assert.equal(pixel.trackEvent('Purchase', { value: 1, currency: 'USD' }), null);
  assert.equal(globalThis.fbq.queue.length, queued);
  assert.equal(page.beacons.length, 1);

  pixel.setConsent(true);
  assert.deepEqual([...globalThis.fbq.queue.at(-1)], ['consent', 'grant']);
  assert.match(pixel.trackEvent('Lead'), UUID);
  assert.equal(page.beacons.length, 2);
  // PageView and init only once.
  assert.equal(globalThis.fbq.queue.filter((a) => a[0] === 'init').length, 1);
});

test('consent remembered by the banner, or given before initPixel', async () => {
  let page = open({ fbq: 'record' });
  let pixel = await freshSnippet();
  pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true, requireConsent: true, consentGranted: true });
  assert.deepEqual(page.fbqCalls, [['consent', 'grant'], ['init', PIXEL], ['track', 'PageView']]);
  page.restore();

  page = open({ fbq: 'record' });
  pixel = await freshSnippet();
  pixel.setConsent(false);
  pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true, requireConsent: true });
  assert.deepEqual(page.fbqCalls, []);
});

test('_fbc follows Meta: format, 90 days, registrable domain, rewritten only for a new fbclid', async () => {
  const page = open({ url: 'https://www.shop.example.com/landing?utm_source=fb&fbclid=AbC-dEf_123' });
  const before = Date.now();
  let pixel = await freshSnippet();
  pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true });
  const written = page.cookieWrites.filter((w) => w.name === '_fbc');
  assert.equal(written.length, 1);
  const [prefix, index, ms, clid, ...rest] = written[0].value.split('.');
  assert.deepEqual([prefix, index, clid, rest], ['fb', '1', 'AbC-dEf_123', []]);
  assert.ok(Number(ms) >= before && Number(ms) <= Date.now(), 'creation time in milliseconds');
  assert.equal(written[0].attrs['max-age'], String(90 * 24 * 60 * 60));
  assert.equal(written[0].attrs.domain, 'example.com'); // not the public suffix, not www
  assert.equal(written[0].attrs.path, '/');
  assert.ok('secure' in written[0].attrs);
  assert.equal(pixel.getFbc(), written[0].value);
  // The domain probe leaves nothing behind.
  assert.equal(page.cookie('_gdp_domain_probe'), null);

  // A second landing with the same fbclid keeps the cookie (and its time).
  page.navigate('/other?fbclid=AbC-dEf_123');
  pixel = await freshSnippet();
  pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true });
  pixel.trackEvent('ViewContent');
  assert.equal(page.cookieWrites.filter((w) => w.name === '_fbc').length, 1);
  assert.equal(pixel.getFbc(), written[0].value);

  // A landing without fbclid keeps it too.
  page.navigate('/plain');
  pixel = await freshSnippet();
  pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true });
  assert.equal(pixel.getFbc(), written[0].value);

  // A different fbclid (case counts) replaces it.
  page.navigate('/again?fbclid=abc-def_123');
  pixel = await freshSnippet();
  pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true });
  assert.match(pixel.getFbc(), /^fb\.1\.\d{13}\.abc-def_123$/);

  // An fbclid that is not base64url text is not a click id.
  page.navigate('/x?fbclid=%3Cscript%3E');
  pixel = await freshSnippet();
  pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true });
  assert.match(pixel.getFbc(), /\.abc-def_123$/);
});

test('_fbc subdomain index and domain on other hosts', async () => {
  const cases = [
    ['https://shop.example.co.uk/?fbclid=Zz9', 'example.co.uk', '2', undefined],
    ['https://example.com/?fbclid=Zz9', 'example.com', '1', undefined],
    ['http://localhost:3000/?fbclid=Zz9', undefined, '0', undefined],
    ['http://127.0.0.1:8080/?fbclid=Zz9', undefined, '0', undefined],
    ['https://a.b.example.com/?fbclid=Zz9', 'b.example.com', '2', 'b.example.com'],
  ];
  for (const [url, domain, index, cookieDomain] of cases) {
    const page = open({ url });
    const pixel = await freshSnippet();
    pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true, cookieDomain });
    const write = page.cookieWrites.find((w) => w.name === '_fbc');
    assert.equal(write.attrs.domain, domain, url);
    assert.equal(write.value.split('.')[1], index, url);
    assert.equal('secure' in write.attrs, url.startsWith('https:'), url);
    page.restore();
  }
});

test('_fbp is the Pixel\'s: read, never invented', async () => {
  let page = open({ url: 'https://www.shop.example.com/', fbq: 'record' });
  let pixel = await freshSnippet();
  pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true });
  pixel.trackEvent('Lead');
  assert.equal(pixel.getFbp(), null);
  assert.ok(!page.cookieWrites.some((w) => w.name === '_fbp'));
  page.restore();

  page = open({ url: 'https://www.shop.example.com/', fbq: 'meta' });
  pixel = await freshSnippet();
  pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true });
  assert.match(pixel.getFbp(), /^fb\.1\.\d{13}\.1234567890$/);
});

test('a missing or broken fbq never throws and the server event is still sent', async () => {
  for (const fbq of ['none', 'throw']) {
    const page = open({ fbq });
    const pixel = await freshSnippet();
    pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true, scriptUrl: false });
    const id = pixel.trackEvent('Purchase', { value: 5, currency: 'USD' });
    assert.match(id, UUID);
    assert.equal((await page.beaconBodies())[0].body.event_id, id);
    assert.deepEqual(page.scripts, []);
    page.restore();
  }
  // A script that never arrives (blocked): the stub queues, the relay still goes.
  const page = open({});
  const pixel = await freshSnippet();
  pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true });
  assert.deepEqual(page.scripts, ['https://connect.facebook.net/en_US/fbevents.js']);
  const id = pixel.trackEvent('Purchase', { value: 5, currency: 'USD' });
  assert.equal((await page.beaconBodies())[0].body.event_id, id);
});

test('without sendBeacon, or when it refuses, fetch with keepalive carries the event', async () => {
  for (const options of [{ beacon: false }, { beaconAccepts: false }]) {
    const page = open(options);
    const pixel = await freshSnippet();
    pixel.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true, scriptUrl: false });
    const id = pixel.trackEvent('Lead', { content_name: 'newsletter' });
    assert.equal(page.fetches.length, 1);
    const { url, init } = page.fetches[0];
    assert.equal(url, '/api/tracking/meta-event');
    assert.equal(init.method, 'POST');
    assert.equal(init.keepalive, true);
    assert.equal(init.credentials, 'same-origin');
    assert.equal(init.headers['Content-Type'], 'application/json');
    assert.equal(JSON.parse(init.body).event_id, id);
    page.restore();
  }
});

test('event ids are v4 UUIDs with or without crypto.randomUUID', async () => {
  open({ randomUUID: false });
  const pixel = await freshSnippet();
  const ids = new Set(Array.from({ length: 200 }, () => pixel.uuid()));
  assert.equal(ids.size, 200);
  for (const id of ids) assert.match(id, UUID);
});

test('the <script> build and the Next.js copy are generated from the module', () => {
  const build = fileURLToPath(new URL('../build.mjs', import.meta.url));
  execFileSync(process.execPath, [build, '--check'], { stdio: 'pipe' });
});

test('the <script> build exposes window.GDPMetaPixel with the same behaviour', async () => {
  const page = open({ url: 'https://www.shop.example.com/?fbclid=GlobalBuild1', fbq: 'record' });
  const code = readFileSync(new URL('../meta-pixel.global.js', import.meta.url), 'utf8');
  vm.runInThisContext(code, { filename: 'meta-pixel.global.js' });
  const api = globalThis.GDPMetaPixel;
  const module = await freshSnippet();
  assert.deepEqual(Object.keys(api).sort(), Object.keys(module).sort());
  api.initPixel({ pixelId: PIXEL, productId: PRODUCT, enabled: true });
  const id = api.trackEvent('Purchase', { value: 3, currency: 'USD' });
  assert.deepEqual(page.fbqCalls.at(-1), ['track', 'Purchase', { value: 3, currency: 'USD' }, { eventID: `${PRODUCT}:${id}` }]);
  assert.equal((await page.beaconBodies())[0].body.event_id, id);
  assert.match(api.getFbc(), /\.GlobalBuild1$/);
  delete globalThis.GDPMetaPixel;
});

test('the TypeScript declarations name every export', async () => {
  const dts = readFileSync(new URL('../meta-pixel.d.ts', import.meta.url), 'utf8');
  const module = await freshSnippet();
  for (const name of Object.keys(module)) {
    assert.match(dts, new RegExp(`export (declare )?(function|const) ${name}\\b`), name);
  }
});
