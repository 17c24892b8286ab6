// node --test clients/nextjs/test/
//
// The relay's rules with a stand-in for GDP, then (when GDP_TEST_URL is set, as
// tests/test_relay_node.py does) the route handler against the real GDP endpoint.
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { POST } from '../app/api/tracking/meta-event/route.js';
import {
  clearRelayConfigCache,
  clientIp,
  parseAddress,
  trustedProxies,
  relayEvent,
  relayMetaEvent,
  validCookie,
} from '../lib/tracking/meta-relay.js';
import { freshSnippet, installFakeBrowser } from '../../web/test/fake-browser.mjs';

const FBP = 'fb.1.1596403881668.1116446470';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) NodeTest/20';
const EVENTS = { Purchase: 'Purchase', ProUpgrade: 'Purchase', SnapCreated: 'SnapCreated' };
const ENV = {
  PRODUCT_ID: 'snapmix',
  META_CAPI_RELAY_ENABLED: 'true',
  GDP_API_URL: 'http://gdp.test/',
  GDP_SERVICE_KEY: 'gdp_sk_snapmix_test',
  GDP_TRUST_FORWARDED_FOR: 'true', // as behind Vercel or a load balancer
  GDP_TRUSTED_PROXIES: '10.0.0.0/8', // the deployment's inner proxies
};

function fbcNow(clid = 'IwAR_Node-Click') {
  return `fb.1.${Date.now() - 60_000}.${clid}`;
}

function browserEvent(changes = {}) {
  return {
    event_name: 'ProUpgrade',
    event_id: crypto.randomUUID(),
    event_source_url: 'https://snapmix.app/upgrade',
    custom_data: { value: 9.99, currency: 'USD', plan: 'pro' },
    ...changes,
  };
}

function request(body, { headers = {}, query = '', raw } = {}) {
  return new Request(`https://snapmix.app/api/tracking/meta-event${query}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'User-Agent': UA, ...headers },
    body: raw ?? JSON.stringify(body),
  });
}

/** A stand-in for GDP: relay-config and /api/v1/meta/event, recording what it got. */
function fakeGdp({ enabled = true, status = 200, answer = { success: true, status: 'queued' } } = {}) {
  const calls = [];
  const fetcher = async (url, init = {}) => {
    calls.push({ url, init });
    if (url.endsWith('/api/v1/meta/relay-config')) {
      return Response.json({ product_id: 'snapmix', enabled, events: EVENTS });
    }
    if (answer instanceof Error) throw answer;
    return typeof answer === 'string'
      ? new Response(answer, { status })
      : Response.json(answer, { status });
  };
  fetcher.calls = calls;
  fetcher.forwarded = () =>
    calls.filter((c) => c.url.includes('/api/v1/meta/event')).map((c) => JSON.parse(c.init.body));
  return fetcher;
}

beforeEach(() => clearRelayConfigCache());

describe('the relay with a stand-in GDP', () => {
  test('disabled by the environment or by GDP: nothing forwarded', async () => {
    for (const env of [
      { ...ENV, META_CAPI_RELAY_ENABLED: 'false' },
      { ...ENV, META_CAPI_RELAY_ENABLED: undefined },
      { ...ENV, GDP_SERVICE_KEY: '' },
      { ...ENV, PRODUCT_ID: undefined },
    ]) {
      const gdp = fakeGdp();
      const response = await relayMetaEvent(request(browserEvent()), { env, fetch: gdp });
      assert.deepEqual(await response.json(), { disabled: true });
      assert.equal(gdp.calls.length, 0);
    }
    const gdp = fakeGdp({ enabled: false });
    const response = await relayMetaEvent(request(browserEvent()), { env: ENV, fetch: gdp });
    assert.deepEqual([response.status, await response.json()], [200, { disabled: true }]);
    assert.deepEqual(gdp.forwarded(), []);
  });

  test('forwards with what only the relay knows', async () => {
    const gdp = fakeGdp();
    const fbc = fbcNow();
    const body = browserEvent({ user_data: { fbp: 'fb.1.1.forged' } });
    const response = await relayMetaEvent(
      request(body, {
        query: '?wait=2',
        headers: {
          // What the client wrote, what the platform saw, one of our inner proxies.
          'X-Forwarded-For': '8.8.8.8, 2001:4860:4860:0:0:0:0:8888, 10.0.0.1',
          Cookie: `_ga=1; _fbp=${FBP}; _fbc=${fbc}`,
        },
      }),
      { env: ENV, fetch: gdp },
    );
    assert.deepEqual([response.status, await response.json()], [200, { success: true, status: 'queued' }]);
    const post = gdp.calls.at(-1);
    assert.equal(post.url, 'http://gdp.test/api/v1/meta/event?wait=2');
    assert.equal(post.init.headers.Authorization, 'Bearer gdp_sk_snapmix_test');
    const [forwarded] = gdp.forwarded();
    assert.ok(Math.abs(forwarded.event_time - Date.now() / 1000) < 5);
    delete forwarded.event_time;
    assert.deepEqual(forwarded, {
      event_name: 'Purchase',
      event_id: body.event_id,
      action_source: 'website',
      event_source_url: 'https://snapmix.app/upgrade',
      user_data: {
        client_ip_address: '2001:4860:4860::8888',
        client_user_agent: UA,
        fbp: FBP,
        fbc,
      },
      custom_data: { value: 9.99, currency: 'USD', plan: 'pro', source_product: 'snapmix' },
    });
    // The configuration is read once and kept.
    await relayMetaEvent(request(browserEvent()), { env: ENV, fetch: gdp });
    assert.equal(gdp.calls.filter((c) => c.url.endsWith('/relay-config')).length, 1);
  });

  test('refuses other origins when GDP_RELAY_ALLOWED_ORIGINS is set', async () => {
    const gdp = fakeGdp();
    const env = { ...ENV, GDP_RELAY_ALLOWED_ORIGINS: 'https://snapmix.app, https://www.snapmix.app/' };
    const refused = await relayMetaEvent(
      request(browserEvent(), { headers: { Origin: 'https://evil.example' } }), { env, fetch: gdp },
    );
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).error.field, 'Origin');
    assert.deepEqual(gdp.forwarded(), []);
    for (const headers of [{ Origin: 'https://WWW.snapmix.app' }, {}]) {
      const response = await relayMetaEvent(request(browserEvent(), { headers }), { env, fetch: gdp });
      assert.equal(response.status, 200);
    }
    assert.equal(gdp.forwarded().length, 2);
  });

  test('the PRD\'s WAITLISTLAB_* names are accepted for GDP_API_URL and GDP_SERVICE_KEY', async () => {
    const gdp = fakeGdp();
    const { GDP_API_URL, GDP_SERVICE_KEY, ...rest } = ENV;
    const env = { ...rest, WAITLISTLAB_API_URL: GDP_API_URL, WAITLISTLAB_SERVICE_KEY: GDP_SERVICE_KEY };
    const response = await relayMetaEvent(request(browserEvent()), { env, fetch: gdp });
    assert.equal(response.status, 200);
    const post = gdp.calls.at(-1);
    assert.equal(post.url, 'http://gdp.test/api/v1/meta/event');
    assert.equal(post.init.headers.Authorization, 'Bearer gdp_sk_snapmix_test');
  });

  test('addresses a client writes into X-Forwarded-For are never the visitor', async () => {
    const gdp = fakeGdp();
    for (let i = 0; i < 3; i += 1) {
      const headers = { 'X-Forwarded-For': `6.6.6.${i}, 203.0.113.9, 10.0.0.4` };
      await relayMetaEvent(request(browserEvent(), { headers }), { env: ENV, fetch: gdp });
    }
    assert.deepEqual(gdp.forwarded().map((e) => e.user_data.client_ip_address), Array(3).fill('203.0.113.9'));
    const broken = await relayMetaEvent(
      request(browserEvent()), { env: { ...ENV, GDP_TRUSTED_PROXIES: '10.0.0.0/8, proxy.local' }, fetch: gdp },
    );
    assert.equal(broken.status, 502);
    assert.match((await broken.json()).error.message, /GDP_TRUSTED_PROXIES entry 2/);
  });

  test('ignores X-Forwarded-For unless told a proxy sets it', async () => {
    const gdp = fakeGdp();
    const { GDP_TRUST_FORWARDED_FOR, ...untrusting } = ENV;
    assert.equal(GDP_TRUST_FORWARDED_FOR, 'true');
    for (const env of [untrusting, { ...ENV, GDP_TRUST_FORWARDED_FOR: 'false' }]) {
      const response = await relayMetaEvent(
        request(browserEvent(), { headers: { 'X-Forwarded-For': '8.8.8.8' } }),
        { env, fetch: gdp },
      );
      assert.equal(response.status, 200);
      assert.equal(gdp.forwarded().at(-1).user_data.client_ip_address, undefined);
    }
  });

  test('no fbc cookie: the page URL\'s fbclid is a click (subdomain index 1)', async () => {
    const gdp = fakeGdp();
    const now = 1_800_000_000_123;
    const body = browserEvent({ event_source_url: 'https://snapmix.app/?fbclid=AbC_d-9' });
    await relayMetaEvent(request(body), { env: ENV, fetch: gdp, now });
    assert.equal(gdp.forwarded()[0].user_data.fbc, 'fb.1.1800000000123.AbC_d-9');
  });

  const refusals = [
    [{ user_data: { email: 'jane@example.com' } }, 422, 'user_data.email'],
    [{ custom_data: { source_product: 'softwarehub' } }, 403, 'custom_data.source_product'],
    [{ custom_data: { First_Name: 'Jane' } }, 422, 'custom_data.First_Name'],
    [{ custom_data: { note: 'mail jane@example.com' } }, 422, 'custom_data.note'],
    [{ event_time: 1 }, 422, 'event_time'],
    [{ action_source: 'app' }, 422, 'action_source'],
    [{ event_name: 'CourseEnroll' }, 422, 'event_name'],
    [{ event_id: '' }, 422, 'event_id'],
    [{ event_source_url: 'javascript:alert(1)' }, 422, 'event_source_url'],
  ];
  for (const [change, status, field] of refusals) {
    test(`refuses ${field} (${status}) and forwards nothing`, async () => {
      const gdp = fakeGdp();
      const response = await relayMetaEvent(request(browserEvent(change)), { env: ENV, fetch: gdp });
      assert.equal(response.status, status);
      const answer = await response.json();
      assert.equal(answer.error.field, field);
      assert.ok(!JSON.stringify(answer).includes('jane'));
      assert.deepEqual(gdp.forwarded(), []);
    });
  }

  test('size, type and syntax', async () => {
    const gdp = fakeGdp();
    const big = JSON.stringify(browserEvent({ custom_data: { notes: 'x'.repeat(17_000) } }));
    let response = await relayMetaEvent(request(null, { raw: big }), { env: ENV, fetch: gdp });
    assert.equal(response.status, 413);
    response = await relayMetaEvent(request(null, { raw: '{' }), { env: ENV, fetch: gdp });
    assert.equal(response.status, 400);
    response = await relayMetaEvent(
      request(null, { raw: 'a=b', headers: { 'Content-Type': 'text/html' } }),
      { env: ENV, fetch: gdp },
    );
    assert.equal(response.status, 415);
    response = await relayMetaEvent(
      request(null, { raw: JSON.stringify(browserEvent()), headers: { 'Content-Type': 'text/plain' } }),
      { env: ENV, fetch: gdp },
    );
    assert.equal(response.status, 200);
    assert.equal(gdp.forwarded().length, 1);
  });

  test('GDP failures are the relay\'s, not the browser\'s', async () => {
    const cases = [
      [{ status: 401, answer: { error: {} } }, 502],
      [{ status: 403, answer: { error: {} } }, 502],
      [{ status: 500, answer: { error: {} } }, 502],
      [{ status: 503, answer: { error: {} } }, 503],
      [{ status: 200, answer: '<html>' }, 502],
      [{ answer: new TypeError('fetch failed') }, 502],
      [{ status: 422, answer: { error: { field: 'custom_data.value' } } }, 422],
    ];
    for (const [options, status] of cases) {
      clearRelayConfigCache();
      const response = await relayMetaEvent(request(browserEvent()), { env: ENV, fetch: fakeGdp(options) });
      assert.equal(response.status, status, JSON.stringify(options));
      assert.ok(!(await response.text()).includes('gdp_sk_'));
    }
  });
});

describe('the visitor\'s address and cookies', () => {
  test('X-Forwarded-For read from the right, past our own proxies; IPv6 kept', () => {
    const headers = (xff, real) => new Headers({ ...(xff ? { 'x-forwarded-for': xff } : {}), ...(real ? { 'x-real-ip': real } : {}) });
    const ours = trustedProxies('10.0.0.0/8, fd00::/8; 127.0.0.1');
    assert.equal(clientIp(headers('8.8.8.8, 10.0.0.2'), true, ours), '8.8.8.8');
    assert.equal(clientIp(headers('10.0.0.9, 192.168.1.4, 1.1.1.1'), true, ours), '1.1.1.1');
    assert.equal(clientIp(headers('1.1.1.1, 6.6.6.6, 8.8.8.8, 10.0.0.2'), true, ours), '8.8.8.8');
    assert.equal(clientIp(headers('[2001:4860:4860::8844]:443'), true, ours), '2001:4860:4860::8844');
    assert.equal(clientIp(headers('::ffff:8.8.4.4'), true, ours), '8.8.4.4');
    assert.equal(clientIp(headers('9.9.9.9:5678, fd00::3'), true, ours), '9.9.9.9');
    assert.equal(clientIp(headers('unknown, 192.168.1.20'), true, ours), '192.168.1.20');
    assert.equal(clientIp(headers('8.8.8.8, unknown'), true, ours), null);
    assert.equal(clientIp(headers('10.0.0.5, 10.0.0.6'), true, ours), '10.0.0.5');
    assert.equal(clientIp(headers(`${'6.6.6.6, '.repeat(100)}8.8.8.8`), true, ours), '8.8.8.8');
    // Without inner proxies the last hop is the visitor.
    assert.equal(clientIp(headers('8.8.8.8, 10.0.0.2'), true), '10.0.0.2');
    assert.equal(clientIp(headers(null, '2606:4700:4700::1111'), true, ours), '2606:4700:4700::1111');
    assert.equal(clientIp(headers('8.8.8.8'), false, ours), null);
    assert.throws(() => trustedProxies('10.0.0.0/33'), /entry 1/);
    assert.throws(() => trustedProxies('10.0.0.0/8,,nope'), /entry 3/);
    assert.equal(parseAddress('fe80::1%eth0'), null);
    assert.equal(parseAddress('2A03:2880:F12F:83:FACE:B00C:0:25DE').address, '2a03:2880:f12f:83:face:b00c:0:25de');
  });

  test('fbp/fbc values as Meta formats them', () => {
    assert.equal(validCookie('fbp', FBP), FBP);
    assert.equal(validCookie('fbp', 'fb.1.1596403881.1116446470'), null); // seconds
    assert.equal(validCookie('fbp', 'fb.1.1596403881668.abc'), null);
    assert.equal(validCookie('fbc', 'fb.1.1554763741205.AbCdEf.AQ'), 'fb.1.1554763741205.AbCdEf.AQ');
    assert.equal(validCookie('fbc', 'fb.1.1554763741205.Ab Cd'), null);
  });

  test('a stale or future-dated fbc cookie is not sent', () => {
    const context = (fbc) => ({ product: 'snapmix', events: EVENTS, ip: null, userAgent: null, fbp: null, fbc, referer: null });
    const body = browserEvent({ event_source_url: 'https://snapmix.app/' });
    const old = `fb.1.${Date.now() - 91 * 86_400_000}.OldClick`;
    assert.equal(relayEvent(body, context(old)).user_data.fbc, undefined);
    const future = `fb.1.${Date.now() + 3_600_000}.Future`;
    assert.equal(relayEvent(body, context(future)).user_data.fbc, undefined);
  });
});

describe('lib/tracking/meta-pixel.js reads the NEXT_PUBLIC_* settings', () => {
  let page = null;
  const saved = {};
  const setEnv = (values) => {
    for (const [k, v] of Object.entries(values)) {
      saved[k] = process.env[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  afterEach(() => {
    page?.restore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  test('disabled by default, active with the flag and a pixel id', async () => {
    page = installFakeBrowser({ fbq: 'record' });
    setEnv({ NEXT_PUBLIC_META_PIXEL_ENABLED: undefined, NEXT_PUBLIC_META_PIXEL_ID: '1234567890' });
    let pixel = await freshSnippet('../../nextjs/lib/tracking/meta-pixel.js');
    assert.deepEqual(pixel.initPixel(), { active: false, consent: true });
    assert.equal(pixel.trackEvent('Purchase'), null);
    page.restore();

    page = installFakeBrowser({ fbq: 'record' });
    setEnv({ NEXT_PUBLIC_META_PIXEL_ENABLED: 'true', NEXT_PUBLIC_META_PIXEL_REQUIRE_CONSENT: 'true' });
    // Without the product id the Pixel's eventID could not match GDP's: inactive.
    setEnv({ NEXT_PUBLIC_GDP_PRODUCT_ID: undefined });
    pixel = await freshSnippet('../../nextjs/lib/tracking/meta-pixel.js');
    assert.equal(pixel.initPixel({ consentGranted: true }).active, false);
    page.restore();
    page = installFakeBrowser({ fbq: 'record' });
    setEnv({ NEXT_PUBLIC_GDP_PRODUCT_ID: 'snapmix' });
    // The core's state is shared, but an inactive init never started: this one takes over.
    pixel = await freshSnippet('../../nextjs/lib/tracking/meta-pixel.js');
    const state = pixel.initPixel({ consentGranted: false });
    assert.equal(state.active, true);
    assert.equal(pixel.isActive(), false);
    pixel.setConsent(true);
    const id = pixel.trackEvent('Purchase', { value: 1, currency: 'USD' });
    assert.deepEqual(page.fbqCalls.at(-1), ['track', 'Purchase', { value: 1, currency: 'USD' }, { eventID: `snapmix:${id}` }]);
    assert.equal((await page.beaconBodies())[0].body.event_id, id);
  });
});

// --- against the real GDP endpoint -------------------------------------------------------------

const GDP_URL = process.env.GDP_TEST_URL;
const realEnv = () => ({
  PRODUCT_ID: 'snapmix',
  META_CAPI_RELAY_ENABLED: 'true',
  // The PRD's names for GDP_API_URL and GDP_SERVICE_KEY, still accepted.
  WAITLISTLAB_API_URL: GDP_URL,
  WAITLISTLAB_SERVICE_KEY: process.env.GDP_TEST_KEY,
  GDP_TRUST_FORWARDED_FOR: 'true',
  GDP_TRUSTED_PROXIES: '10.0.0.0/8',
});
const skip = GDP_URL ? false : 'GDP_TEST_URL is not set (tests/test_relay_node.py sets it)';

function record(line) {
  if (process.env.GDP_TEST_OUT) appendFileSync(process.env.GDP_TEST_OUT, `${JSON.stringify(line)}\n`);
}

describe('route.js against the real GDP endpoint', { skip }, () => {
  const saved = {};
  beforeEach(() => {
    for (const [k, v] of Object.entries(realEnv())) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  test('a relayed event is stored once and queued for Meta', async () => {
    const fbc = fbcNow('NodeClick_CaseKept');
    const body = browserEvent();
    const headers = {
      'X-Forwarded-For': '2a03:2880:f12f:83:face:b00c:0:25de, 10.0.0.7',
      Cookie: `_fbp=${FBP}; _fbc=${fbc}`,
    };
    const response = await POST(request(body, { headers }));
    const answer = await response.json();
    assert.equal(response.status, 200, JSON.stringify(answer));
    assert.equal(answer.success, true);
    assert.equal(answer.event_id, body.event_id);
    assert.equal(answer.status, 'queued');
    record({ event_id: body.event_id, fbc, fbp: FBP, ua: UA, ip: '2a03:2880:f12f:83:face:b00c:0:25de' });

    const again = await (await POST(request(body, { headers }))).json();
    // A resend answers like the first call (the event's status), flagged as a duplicate.
    assert.equal(again.status, 'queued');
    assert.equal(again.duplicate, true);

    const status = await fetch(`${GDP_URL}/api/v1/meta/event/${body.event_id}`, {
      headers: { Authorization: `Bearer ${process.env.GDP_TEST_KEY}` },
    });
    const stored = await status.json();
    assert.equal(status.status, 200);
    assert.equal(stored.product_id, 'snapmix');
    assert.equal(stored.meta_event_name, 'Purchase');
  });

  test('a product GDP has not switched on gets {disabled: true}', async () => {
    process.env.PRODUCT_ID = 'gapradar';
    process.env.WAITLISTLAB_SERVICE_KEY = process.env.GDP_TEST_KEY_DISABLED;
    const response = await POST(request(browserEvent({ event_name: 'Purchase' })));
    assert.deepEqual(await response.json(), { disabled: true });
  });

  test('refusals are decided with GDP\'s event list', async () => {
    let response = await POST(request(browserEvent({ event_name: 'ReportGenerated' })));
    assert.equal(response.status, 422);
    assert.equal((await response.json()).error.field, 'event_name');
    response = await POST(request(browserEvent({ event_name: 'SnapCreated', custom_data: {} })));
    assert.equal(response.status, 200);
    // GDP's own rules still apply behind the relay: a Purchase needs a value.
    response = await POST(request(browserEvent({ event_name: 'Purchase', custom_data: {} })));
    assert.equal(response.status, 422);
    assert.equal((await response.json()).error.field, 'custom_data.value');
  });

  test('a wrong service key is a 502, not the browser\'s fault', async () => {
    process.env.WAITLISTLAB_SERVICE_KEY = 'gdp_sk_snapmix_wrong';
    const response = await POST(request(browserEvent()));
    assert.equal(response.status, 502);
  });
});
