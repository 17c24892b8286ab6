/**
 * The server half of GAP-005 for a Next.js product: the relay behind
 * `app/api/tracking/meta-event/route.js`, with the same rules as GDP's own relay
 * (edge_compat/routes/relay.py).
 *
 * The page's `trackEvent` posts `{event_name, event_id, event_source_url, custom_data}`. The relay
 * adds what only the server knows (the visitor's IP address, user agent, `_fbp` and `_fbc`
 * cookies) and `custom_data.source_product = PRODUCT_ID`, and forwards it to
 * `${GDP_API_URL}/api/v1/meta/event` with `Authorization: Bearer ${GDP_SERVICE_KEY}`.
 *
 * Enabled only when `META_CAPI_RELAY_ENABLED=true` here *and* GDP says so for this product
 * (the global flag and the product's own switch, read from `/api/v1/meta/relay-config` and kept
 * for 30 seconds); otherwise `{"disabled": true}` and nothing is forwarded. Browser input is
 * untrusted: 16 KB at most, only the product's key events and Meta's standard events, no
 * personal data, no other product, no server-owned fields.
 *
 * Environment: PRODUCT_ID, META_CAPI_RELAY_ENABLED, GDP_API_URL, GDP_SERVICE_KEY (the PRD's
 * names, WAITLISTLAB_API_URL and WAITLISTLAB_SERVICE_KEY, are accepted too);
 * GDP_RELAY_ALLOWED_ORIGINS (comma-separated origins whose pages may post; unset: any);
 * GDP_TRUST_FORWARDED_FOR (default `false`) and GDP_TRUSTED_PROXIES. A route handler cannot see
 * the connection's peer address, so X-Forwarded-For is read only when GDP_TRUST_FORWARDED_FOR is
 * `true`, which is right only when every request comes through a platform or proxy that appends
 * to it (Vercel, a load balancer). It is then read from the right: the last hop is what that
 * proxy saw; hops that are the deployment's own inner proxies (GDP_TRUSTED_PROXIES, addresses or
 * CIDRs) are skipped; the first other address is the visitor. Addresses a client wrote itself
 * stand further left and are never read. Untrusted: no IP sent.
 *
 * Node.js runtime (uses node:net). No dependencies.
 */
import { BlockList, isIP } from 'node:net';

export const MAX_BODY_BYTES = 16 * 1024;
export const CONFIG_TTL_MS = 30_000;
const MAX_TEXT = 2048;
const MAX_EVENT_ID = 200;
const MAX_DEPTH = 8;
const MAX_KEY = 100;
const MAX_STRING = 8192;
const FBC_MAX_AGE_MS = 90 * 24 * 60 * 60 * 1000;
const FUTURE_SKEW_MS = 5 * 60 * 1000;
const MIN_CREATED_MS = 1_262_304_000_000;
const MAX_CREATED_MS = 4_102_444_800_000;

const BROWSER_FIELDS = new Set(['event_name', 'event_id', 'event_source_url', 'custom_data', 'user_data']);
const SERVER_FIELDS = new Set([
  'event_time', 'action_source', 'opt_out', 'data_processing_options',
  'data_processing_options_country', 'data_processing_options_state', 'test_event_code',
  'referrer_url', 'original_event_data', 'customer_segmentation', 'app_data', 'data',
]);
const RELAY_USER_KEYS = new Set(['client_ip_address', 'client_user_agent', 'fbp', 'fbc']);
// The same list as edge_compat/validation.py: compared without case, spaces, '-', '_' or '.'.
const PII_KEYS = new Set([
  'email', 'emailaddress', 'mail', 'em', 'phone', 'phonenumber', 'telephone', 'tel', 'mobile',
  'mobilephone', 'cellphone', 'ph', 'firstname', 'lastname', 'fn', 'ln', 'givenname',
  'familyname', 'surname', 'name', 'fullname', 'address', 'streetaddress', 'street',
  'homeaddress', 'postaladdress', 'billingaddress', 'shippingaddress', 'dateofbirth', 'dob',
  'birthday', 'birthdate', 'ssn', 'socialsecuritynumber', 'ipaddress', 'clientipaddress',
]);
const EMAIL_LIKE = /[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+\.[^\W\d_]{2,}/u;
const CONTROL = /[\x00-\x1f\x7f]/;
const COOKIE = /^fb\.(0|[1-9][0-9]?)\.([0-9]+)\.([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_-]{2}|[A-Za-z0-9_-]{8}))?$/;
const FBCLID = /^[A-Za-z0-9_-]{1,500}$/;
const PII_HINT = "the product's server (POST /api/v1/meta/event), not the browser";

/** A relay answer or refusal, as JSON. */
function json(body, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
  });
}

class FieldError extends Error {
  constructor(field, rule, status = 422) {
    super(`${field}: ${rule}`);
    this.field = field;
    this.rule = rule;
    this.status = status;
  }

  response() {
    return json({ error: { field: this.field, rule: this.rule, message: this.message } }, this.status);
  }
}

function errorResponse(status, message, field = null, rule = null) {
  return json({ error: { field, rule, message } }, status);
}

// --- configuration ------------------------------------------------------------------------------

/**
 * @typedef {object} RelayEnv
 * @property {string} [PRODUCT_ID]
 * @property {string} [META_CAPI_RELAY_ENABLED]
 * @property {string} [GDP_API_URL]
 * @property {string} [GDP_SERVICE_KEY]
 * @property {string} [WAITLISTLAB_API_URL] the PRD's name for GDP_API_URL
 * @property {string} [WAITLISTLAB_SERVICE_KEY] the PRD's name for GDP_SERVICE_KEY
 * @property {string} [GDP_TRUST_FORWARDED_FOR]
 * @property {string} [GDP_TRUSTED_PROXIES]
 * @property {string} [GDP_RELAY_ALLOWED_ORIGINS]
 */

/**
 * Whether a request's Origin may post here: any when GDP_RELAY_ALLOWED_ORIGINS (comma-separated
 * origins) is unset; a request without an Origin header is not a cross-site browser request.
 * @param {string | null} origin
 * @param {string | undefined} allowed
 */
export function originAllowed(origin, allowed) {
  const list = (allowed || '').split(',').map((o) => o.trim().replace(/\/+$/, '').toLowerCase());
  const origins = list.filter(Boolean);
  if (!origins.length || origin === null) return true;
  return origins.includes(origin.trim().replace(/\/+$/, '').toLowerCase());
}

/**
 * @typedef {object} RelayConfig
 * @property {boolean} enabled
 * @property {Record<string, string>} events browser name -> Meta name
 */

/** @type {Map<string, {config: RelayConfig, expires: number}>} */
const configCache = new Map();

/** Forget the cached GDP configuration (tests; or after switching a product on). */
export function clearRelayConfigCache() {
  configCache.clear();
}

/**
 * This product's relay configuration from GDP, cached for CONFIG_TTL_MS.
 * @param {string} base
 * @param {string} key
 * @param {typeof fetch} fetcher
 * @returns {Promise<RelayConfig>}
 */
async function relayConfig(base, key, fetcher) {
  const cacheKey = `${base} ${key.slice(0, 12)}`;
  const hit = configCache.get(cacheKey);
  if (hit && hit.expires > Date.now()) return hit.config;
  const response = await fetcher(`${base}/api/v1/meta/relay-config`, {
    headers: { Authorization: `Bearer ${key}` },
    cache: 'no-store',
  });
  if (!response.ok) throw new UpstreamError(response.status);
  const answer = await response.json();
  const mapped = answer && typeof answer.events === 'object' && answer.events ? answer.events : {};
  const events = {};
  for (const meta of Object.values(mapped)) events[meta] = meta;
  Object.assign(events, mapped);
  const config = { enabled: answer.enabled === true, events };
  configCache.set(cacheKey, { config, expires: Date.now() + CONFIG_TTL_MS });
  return config;
}

class UpstreamError extends Error {
  constructor(status) {
    super(`GDP answered ${status}`);
    this.status = status;
  }
}

// --- the visitor --------------------------------------------------------------------------------

/**
 * One address as proxies write it (`1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]:443`), canonical, or
 * null. IPv4-mapped IPv6 becomes the IPv4 address; IPv6 is kept (compressed, lowercase).
 * @param {string | null | undefined} text
 * @returns {{address: string, family: 'ipv4' | 'ipv6'} | null}
 */
export function parseAddress(text) {
  if (!text) return null;
  let value = String(text).trim().replace(/^"|"$/g, '').trim();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) return null;
    value = value.slice(1, end);
  } else if ((value.match(/:/g) || []).length === 1) {
    value = value.split(':')[0];
  }
  if (value.includes('%')) return null;
  const version = isIP(value);
  if (version === 4) return { address: value.split('.').map(Number).join('.'), family: 'ipv4' };
  if (version !== 6) return null;
  const canonical = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 'ipv4' };
  }
  return { address: canonical, family: 'ipv6' };
}

/**
 * GDP_TRUSTED_PROXIES (comma-separated addresses or CIDR networks) as a BlockList.
 * @param {string | undefined} text
 */
export function trustedProxies(text) {
  const list = new BlockList();
  const entries = (text || '').split(/[,;]/).map((e) => e.trim());
  let position = 0;
  for (const entry of entries) {
    position += 1;
    if (!entry) continue;
    const [host, bits, extra] = entry.split('/');
    const ip = parseAddress(host);
    const prefix = bits === undefined ? null : Number(bits);
    const max = ip && ip.family === 'ipv4' ? 32 : 128;
    if (!ip || extra !== undefined || (prefix !== null && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= max))) {
      throw new ConfigError(`GDP_TRUSTED_PROXIES entry ${position} is not an IP address or CIDR network`);
    }
    if (prefix === null) list.addAddress(ip.address, ip.family);
    else list.addSubnet(ip.address, prefix, ip.family);
  }
  return list;
}

class ConfigError extends Error {}

/**
 * The visitor's address, or null. Only when trusted (every request comes through a proxy that
 * appends to X-Forwarded-For): read from the right, past the deployment's own proxies, the first
 * other hop (a hop that is not an address there: unknown); with no header, X-Real-IP.
 * @param {Headers} headers
 * @param {boolean} trustForwarded
 * @param {BlockList} [proxies] the deployment's inner proxies (trustedProxies())
 */
export function clientIp(headers, trustForwarded, proxies = new BlockList()) {
  if (!trustForwarded) return null;
  const hops = (headers.get('x-forwarded-for') || '')
    .split(',')
    .filter((hop) => hop.trim())
    .slice(-32);
  for (let i = hops.length - 1; i >= 0; i -= 1) {
    const hop = parseAddress(hops[i]);
    if (!hop) return null;
    if (!proxies.check(hop.address, hop.family)) return hop.address;
  }
  if (hops.length) return parseAddress(hops[0]).address; // every hop is ours: it began inside
  const real = parseAddress(headers.get('x-real-ip'));
  return real ? real.address : null;
}

/** @param {string | null} header */
function cookies(header) {
  const found = {};
  for (const pair of (header || '').split(';')) {
    const index = pair.indexOf('=');
    if (index <= 0) continue;
    const name = pair.slice(0, index).trim();
    if ((name === '_fbp' || name === '_fbc') && !(name in found)) {
      found[name] = pair.slice(index + 1).trim().replace(/^"(.*)"$/, '$1');
    }
  }
  return found;
}

/**
 * A valid fbp/fbc value (`fb.<index>.<ms>.<payload>[.<appendix>]`), else null.
 * @param {'fbp' | 'fbc'} kind
 * @param {string | undefined} value
 */
export function validCookie(kind, value) {
  const match = typeof value === 'string' ? COOKIE.exec(value.trim()) : null;
  if (!match) return null;
  const [, , created, payload] = match;
  if (created.length === 10) return null; // seconds, not milliseconds
  const ms = Number(created);
  if (!(ms >= MIN_CREATED_MS && ms < MAX_CREATED_MS)) return null;
  if (kind === 'fbp' && !/^[0-9]{1,19}$/.test(payload)) return null;
  return value.trim();
}

/**
 * The fbc to send: the cookie while it is fresh and holds the page's fbclid (or the page has
 * none); a new click from the page's fbclid (subdomain index 1: built on the server); else none.
 */
function fbcFor(cookie, pageUrl, nowMs) {
  let fbclid = null;
  try {
    fbclid = pageUrl ? new URL(pageUrl).searchParams.get('fbclid') : null;
  } catch {
    fbclid = null;
  }
  if (fbclid && !FBCLID.test(fbclid)) fbclid = null;
  const existing = validCookie('fbc', cookie);
  if (existing) {
    const [, , created, clid] = existing.split('.');
    const ms = Number(created);
    const fresh = ms <= nowMs + FUTURE_SKEW_MS;
    if (fresh && (!fbclid || fbclid === clid)) return nowMs - ms > FBC_MAX_AGE_MS ? null : existing;
  }
  return fbclid ? `fb.1.${nowMs}.${fbclid}` : null;
}

// --- the body ------------------------------------------------------------------------------------

function isHttpUrl(text) {
  if (typeof text !== 'string' || text.length > MAX_TEXT || CONTROL.test(text) || /\s/.test(text)) {
    return false;
  }
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && Boolean(url.host);
  } catch {
    return false;
  }
}

function looksLikeEmail(text) {
  if (!text.includes('@') && !text.includes('%40')) return false;
  let decoded = text;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    decoded = text;
  }
  return EMAIL_LIKE.test(decoded);
}

function isPiiKey(key) {
  return PII_KEYS.has(key.toLowerCase().replace(/[\s_\-.]+/g, ''));
}

function checkProperties(value, path) {
  const stack = [[value, path, 1]];
  while (stack.length) {
    const [item, where, depth] = stack.pop();
    if (Array.isArray(item) || (item && typeof item === 'object')) {
      if (depth > MAX_DEPTH) throw new FieldError(where, `nested deeper than ${MAX_DEPTH} levels`);
    }
    if (Array.isArray(item)) {
      item.forEach((child, i) => stack.push([child, `${where}[${i}]`, depth + 1]));
    } else if (item && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        if (!key || key.length > MAX_KEY || CONTROL.test(key)) {
          throw new FieldError(where, `keys must be 1 to ${MAX_KEY} printable characters`);
        }
        if (isPiiKey(key)) throw new FieldError(`${where}.${key}`, `personal data belongs in ${PII_HINT}`);
        stack.push([child, `${where}.${key}`, depth + 1]);
      }
    } else if (typeof item === 'string') {
      if (item.length > MAX_STRING) throw new FieldError(where, `must be at most ${MAX_STRING} characters`);
      if (item.includes('\u0000')) throw new FieldError(where, 'must not contain NUL characters');
      if (looksLikeEmail(item)) {
        throw new FieldError(where, `looks like an email address: personal data belongs in ${PII_HINT}`);
      }
    }
  }
}

/**
 * The GAP-001 event to forward, or a FieldError (422; 403 for another product).
 * @param {unknown} body
 * @param {{product: string, events: Record<string, string>, ip: string | null,
 *   userAgent: string | null, fbp: string | null, fbc: string | null, referer: string | null,
 *   now?: number}} context
 */
export function relayEvent(body, context) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new FieldError('body', 'must be a JSON object');
  }
  for (const key of Object.keys(body)) {
    if (!BROWSER_FIELDS.has(key)) {
      throw new FieldError(
        key.slice(0, 100),
        SERVER_FIELDS.has(key) ? 'is set by the server, not the browser' : 'is not an accepted field',
      );
    }
  }
  const name = body.event_name;
  if (typeof name !== 'string') throw new FieldError('event_name', 'is required (a string)');
  if (!Object.prototype.hasOwnProperty.call(context.events, name)) {
    throw new FieldError(
      'event_name',
      'is not an event this product sends to Meta (its key events or a Meta standard event)',
    );
  }
  const eventId = body.event_id;
  if (typeof eventId !== 'string' || eventId.length < 1 || eventId.length > MAX_EVENT_ID) {
    throw new FieldError('event_id', `is required: 1 to ${MAX_EVENT_ID} characters`);
  }
  if (CONTROL.test(eventId)) throw new FieldError('event_id', 'must not contain control characters');

  let url = body.event_source_url;
  if (url !== undefined && url !== null) {
    if (!isHttpUrl(url)) throw new FieldError('event_source_url', 'must be an http(s) URL without spaces');
    if (looksLikeEmail(url)) throw new FieldError('event_source_url', `contains an email address: ${PII_HINT}`);
  } else {
    url = context.referer && isHttpUrl(context.referer) && !looksLikeEmail(context.referer) ? context.referer : null;
  }

  const user = body.user_data;
  if (user !== undefined && user !== null) {
    if (typeof user !== 'object' || Array.isArray(user)) throw new FieldError('user_data', 'must be a JSON object');
    for (const key of Object.keys(user)) {
      if (!RELAY_USER_KEYS.has(key)) {
        throw new FieldError(
          `user_data.${key.slice(0, 100)}`,
          'is not accepted from the browser: the relay sends only the visitor\'s IP address, ' +
            `user agent, fbp and fbc; personal data goes through ${PII_HINT}`,
        );
      }
    }
  }

  const custom = body.custom_data;
  const properties = {};
  if (custom !== undefined && custom !== null) {
    if (typeof custom !== 'object' || Array.isArray(custom)) throw new FieldError('custom_data', 'must be a JSON object');
    if (custom.source_product != null && custom.source_product !== context.product) {
      throw new FieldError('custom_data.source_product', "must be this site's product", 403);
    }
    checkProperties(custom, 'custom_data');
    for (const [key, value] of Object.entries(custom)) if (key !== 'source_product') properties[key] = value;
  }
  properties.source_product = context.product;

  const now = context.now ?? Date.now();
  const userData = {};
  if (context.ip) userData.client_ip_address = context.ip;
  if (context.userAgent) userData.client_user_agent = context.userAgent;
  if (context.fbp) userData.fbp = context.fbp;
  const fbc = fbcFor(context.fbc, url, now);
  if (fbc) userData.fbc = fbc;

  const event = {
    event_name: context.events[name],
    event_time: Math.floor(now / 1000),
    event_id: eventId,
    action_source: 'website',
    user_data: userData,
    custom_data: properties,
  };
  if (url) event.event_source_url = url;
  return event;
}

/** @param {Request} request @param {number} limit */
async function readBody(request, limit) {
  const type = request.headers.get('content-type');
  if (type !== null) {
    const media = type.split(';')[0].trim().toLowerCase();
    if (media !== 'application/json' && media !== 'text/plain') {
      throw new FieldError('Content-Type', 'must be application/json', 415);
    }
  }
  const declared = request.headers.get('content-length');
  if (declared && /^[0-9]+$/.test(declared) && Number(declared) > limit) {
    throw new FieldError('body', `must be at most ${limit} bytes`, 413);
  }
  const chunks = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new FieldError('body', `must be at most ${limit} bytes`, 413);
      }
      chunks.push(value);
    }
  }
  const text = new TextDecoder().decode(Buffer.concat(chunks));
  try {
    return JSON.parse(text);
  } catch {
    throw new FieldError('body', 'must be valid JSON', 400);
  }
}

// --- the relay ------------------------------------------------------------------------------------

/**
 * Handle `POST /api/tracking/meta-event`.
 * @param {Request} request
 * @param {{env?: RelayEnv, fetch?: typeof fetch, now?: number}} [options]
 * @returns {Promise<Response>}
 */
export async function relayMetaEvent(request, options = {}) {
  const env = options.env ?? process.env;
  const fetcher = options.fetch ?? globalThis.fetch;
  const product = env.PRODUCT_ID;
  const base = (env.GDP_API_URL || env.WAITLISTLAB_API_URL || '').replace(/\/+$/, '');
  const key = env.GDP_SERVICE_KEY || env.WAITLISTLAB_SERVICE_KEY;
  if (env.META_CAPI_RELAY_ENABLED !== 'true' || !product || !base || !key) {
    return json({ disabled: true });
  }
  let config;
  try {
    config = await relayConfig(base, key, fetcher);
  } catch (error) {
    if (error instanceof UpstreamError && (error.status === 401 || error.status === 403)) {
      return errorResponse(502, 'the relay is misconfigured: GDP refused its service key');
    }
    return errorResponse(502, 'GDP is unreachable; the event was not relayed');
  }
  if (!config.enabled) return json({ disabled: true });
  let proxies;
  try {
    proxies = trustedProxies(env.GDP_TRUSTED_PROXIES);
  } catch (error) {
    if (error instanceof ConfigError) {
      return errorResponse(502, `the relay is misconfigured: ${error.message}`);
    }
    throw error;
  }
  if (!originAllowed(request.headers.get('origin'), env.GDP_RELAY_ALLOWED_ORIGINS)) {
    return errorResponse(
      403, 'Origin: is not an allowed origin for this relay', 'Origin',
      'is not an allowed origin for this relay',
    );
  }

  let event;
  try {
    const body = await readBody(request, MAX_BODY_BYTES);
    const headers = request.headers;
    const jar = cookies(headers.get('cookie'));
    const agent = (headers.get('user-agent') || '').trim();
    event = relayEvent(body, {
      product,
      events: config.events,
      ip: clientIp(headers, env.GDP_TRUST_FORWARDED_FOR === 'true', proxies),
      userAgent: agent && agent.length <= MAX_TEXT && !CONTROL.test(agent) ? agent : null,
      fbp: validCookie('fbp', jar._fbp),
      fbc: jar._fbc ?? null,
      referer: headers.get('referer'),
      now: options.now,
    });
  } catch (error) {
    if (error instanceof FieldError) return error.response();
    throw error;
  }

  const wait = Number(new URL(request.url).searchParams.get('wait') || 0);
  const query = wait > 0 && wait <= 5 ? `?wait=${wait}` : '';
  let upstream;
  try {
    upstream = await fetcher(`${base}/api/v1/meta/event${query}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(event),
      cache: 'no-store',
    });
  } catch {
    return errorResponse(502, 'GDP is unreachable; the event was not relayed');
  }
  let answer = null;
  try {
    answer = await upstream.json();
  } catch {
    answer = null;
  }
  if (upstream.status === 401 || upstream.status === 403) {
    return errorResponse(502, 'the relay is misconfigured: GDP refused its service key or PRODUCT_ID');
  }
  if (upstream.status >= 500 || !answer || typeof answer !== 'object' || Array.isArray(answer)) {
    return errorResponse(upstream.status === 503 ? 503 : 502, 'GDP could not take the event now');
  }
  return json(answer, upstream.status);
}
