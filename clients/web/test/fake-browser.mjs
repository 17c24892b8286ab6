/**
 * A tiny fake browser for node --test: location, a cookie jar that behaves like a browser's
 * (Domain must be the host or a parent, public suffixes refused, Max-Age 0 deletes), sendBeacon,
 * fetch, script loading and an optional recording `fbq`. No dependencies.
 */

const PUBLIC_SUFFIXES = new Set(['com', 'uk', 'co.uk', 'test', 'app', 'io', 'localhost']);

/**
 * @param {object} [options]
 * @param {string} [options.url]
 * @param {'none' | 'record' | 'throw' | 'meta'} [options.fbq] `meta`: also sets _fbp on init
 * @param {boolean} [options.beacon] whether navigator.sendBeacon exists
 * @param {boolean} [options.beaconAccepts] what sendBeacon returns
 * @param {boolean} [options.randomUUID] whether crypto.randomUUID exists
 */
export function installFakeBrowser(options = {}) {
  const url = new URL(options.url ?? 'https://www.shop.example.com/');
  /** @type {Map<string, {name: string, value: string, domain: string | null}>} */
  const jar = new Map();
  const cookieWrites = [];
  const beacons = [];
  const fetches = [];
  const scripts = [];
  const fbqCalls = [];

  const hostMatches = (domain) => url.hostname === domain || url.hostname.endsWith(`.${domain}`);

  const document = {
    get cookie() {
      return [...jar.values()].map((c) => `${c.name}=${c.value}`).join('; ');
    },
    set cookie(text) {
      const [pair, ...attributes] = String(text).split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const attrs = {};
      for (const attribute of attributes) {
        const [k, ...v] = attribute.split('=');
        attrs[k.trim().toLowerCase()] = v.join('=').trim();
      }
      let domain = null;
      if (attrs.domain) {
        domain = attrs.domain.replace(/^\./, '').toLowerCase();
        if (!hostMatches(domain) || PUBLIC_SUFFIXES.has(domain)) return; // refused, as browsers do
      }
      cookieWrites.push({ name, value, attrs });
      const key = `${name}@${domain ?? ''}`;
      if (attrs['max-age'] !== undefined && Number(attrs['max-age']) <= 0) jar.delete(key);
      else jar.set(key, { name, value, domain });
    },
    createElement(tag) {
      return { tagName: tag.toUpperCase() };
    },
    head: {
      appendChild(element) {
        scripts.push(element.src);
      },
    },
  };

  const record =
    (kind) =>
    (...args) => {
      if (kind === 'throw') throw new Error('blocked');
      fbqCalls.push(args);
      if (kind === 'meta' && args[0] === 'init' && !document.cookie.includes('_fbp=')) {
        document.cookie = `_fbp=fb.1.${Date.now()}.1234567890; Max-Age=7776000; Domain=example.com`;
      }
    };

  const saved = {};
  const set = (name, value) => {
    saved[name] = Object.getOwnPropertyDescriptor(globalThis, name);
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  };
  set('location', {
    get href() {
      return url.href;
    },
    hostname: url.hostname,
    protocol: url.protocol,
  });
  set('document', document);
  set('navigator', {
    ...(options.beacon === false
      ? {}
      : {
          sendBeacon(target, blob) {
            beacons.push({ url: target, blob });
            return options.beaconAccepts ?? true;
          },
        }),
  });
  set('fetch', (target, init) => {
    fetches.push({ url: target, init });
    return Promise.resolve(new Response('{}'));
  });
  if (options.randomUUID === false) {
    const real = globalThis.crypto;
    set('crypto', { getRandomValues: (array) => real.getRandomValues(array) });
  }
  const kind = options.fbq ?? 'none';
  if (kind !== 'none') set('fbq', record(kind));
  else set('fbq', undefined);
  set('_fbq', undefined);

  return {
    url,
    jar,
    cookieWrites,
    beacons,
    fetches,
    scripts,
    fbqCalls,
    /** Change the page's URL (a navigation), keeping the cookies. */
    navigate(next) {
      const target = new URL(next, url);
      url.href = target.href;
      globalThis.location.hostname = url.hostname;
    },
    cookie(name) {
      const found = [...jar.values()].find((c) => c.name === name);
      return found ? found : null;
    },
    async beaconBodies() {
      return Promise.all(
        beacons.map(async (b) => ({ type: b.blob.type, body: JSON.parse(await b.blob.text()) })),
      );
    },
    restore() {
      for (const [name, descriptor] of Object.entries(saved)) {
        if (descriptor) Object.defineProperty(globalThis, name, descriptor);
        else delete globalThis[name];
      }
    },
  };
}

let loads = 0;
/** A fresh instance of the snippet module (its state is module-level). */
export async function freshSnippet(path = '../meta-pixel.js') {
  loads += 1;
  return import(`${new URL(path, import.meta.url).href}?instance=${loads}`);
}
