/**
 * A local stand-in for Meta's fbevents.js (which cannot load here, and must not in tests).
 *
 * It takes over the `fbq` stub the way Meta's script does (replays the queue, then handles
 * calls), and:
 * - records every call in `window.__fbqCalls` and announces it as a `gdp-fbq` DOM event;
 * - honours `fbq('consent', 'revoke' | 'grant')`: while revoked nothing is sent, no cookie set;
 * - on `init`, sets `_fbp` (`fb.<subdomainIndex>.<ms>.<random>`, 90 days, registrable domain)
 *   when absent, as Meta's Pixel does with first-party cookies;
 * - "sends" each tracked event to `/_standin/tr` with `navigator.sendBeacon`, like Meta's
 *   `facebook.com/tr` hit (pixel id, event, eventID, custom data, fbp, fbc), so a test can see
 *   what the Pixel delivered even across a navigation.
 */
(function () {
  'use strict';
  var w = window;
  var stub = w.fbq;
  if (typeof stub !== 'function' || stub.__gdpStandin) return;
  var calls = (w.__fbqCalls = w.__fbqCalls || []);
  var consent = 'grant';
  var pixels = [];

  function readCookie(name) {
    var parts = document.cookie.split(';');
    for (var i = 0; i < parts.length; i += 1) {
      var at = parts[i].indexOf('=');
      if (at > 0 && parts[i].slice(0, at).trim() === name) return parts[i].slice(at + 1).trim();
    }
    return null;
  }

  function cookieDomain() {
    var host = location.hostname;
    if (!host || host.indexOf('.') < 0 || /^[0-9.]+$/.test(host) || host.indexOf(':') >= 0) return null;
    var labels = host.split('.');
    for (var i = labels.length - 2; i >= 0; i -= 1) {
      var candidate = labels.slice(i).join('.');
      document.cookie = '_fbq_probe=1; Max-Age=10; Path=/; Domain=' + candidate;
      if (readCookie('_fbq_probe') === '1') {
        document.cookie = '_fbq_probe=; Max-Age=0; Path=/; Domain=' + candidate;
        return candidate;
      }
    }
    return null;
  }

  function ensureFbp() {
    if (readCookie('_fbp')) return;
    var domain = cookieDomain();
    var index = domain ? domain.split('.').length - 1 : 0;
    var random = String(Math.floor(Math.random() * 9e9) + 1e9);
    document.cookie = '_fbp=fb.' + index + '.' + Date.now() + '.' + random +
      '; Max-Age=7776000; Path=/; SameSite=Lax' + (domain ? '; Domain=' + domain : '');
  }

  function hit(event, data, options) {
    if (!pixels.length || consent === 'revoke') return;
    var body = JSON.stringify({
      pixel_ids: pixels,
      event: event,
      event_id: options && options.eventID ? options.eventID : null,
      custom_data: data || {},
      fbp: readCookie('_fbp'),
      fbc: readCookie('_fbc'),
      url: location.href
    });
    try {
      navigator.sendBeacon('/_standin/tr', new Blob([body], { type: 'application/json' }));
    } catch (e) {
      /* a stand-in never breaks the page */
    }
  }

  function handle() {
    var args = Array.prototype.slice.call(arguments);
    calls.push(args);
    var command = args[0];
    if (command === 'consent') consent = args[1];
    else if (command === 'init') {
      if (pixels.indexOf(String(args[1])) < 0) pixels.push(String(args[1]));
      if (consent !== 'revoke') ensureFbp();
    } else if (command === 'track' || command === 'trackCustom') {
      hit(args[1], args[2], args[3]);
    }
    try {
      w.dispatchEvent(new CustomEvent('gdp-fbq', { detail: args }));
    } catch (e) {
      /* old browsers */
    }
  }

  stub.__gdpStandin = true;
  stub.callMethod = handle;
  var queued = stub.queue ? stub.queue.splice(0) : [];
  for (var i = 0; i < queued.length; i += 1) handle.apply(null, Array.prototype.slice.call(queued[i]));
})();
