/*
 * The demo shop's page logic: the consent banner, the snippet, two purchase buttons and a log
 * of what left the page. Uses the <script> build (window.GDPMetaPixel).
 */
(function () {
  'use strict';
  var config = Object.assign(
    {
      pixelId: '1234567890',
      enabled: true,
      requireConsent: true,
      relayUrl: '/api/tracking/meta-event',
      scriptUrl: 'fbevents-standin.js',
      product: 'snapmix',
      sandboxEventsUrl: null,
      events: { ProUpgrade: 'Purchase', Signup: 'Lead' }
    },
    window.GDP_SHOP_CONFIG || {}
  );
  var pixel = window.GDPMetaPixel;
  var CONSENT_KEY = 'gdp-demo-consent';
  var $ = function (id) { return document.getElementById(id); };

  function log(text, kind) {
    var item = document.createElement('li');
    item.textContent = new Date().toLocaleTimeString() + '  ' + text;
    if (kind) item.className = kind;
    $('log').appendChild(item);
    showCookies();
  }

  function showCookies() {
    var wanted = document.cookie.split(';').map(function (c) { return c.trim(); })
      .filter(function (c) { return c.indexOf('_fbp=') === 0 || c.indexOf('_fbc=') === 0; });
    $('cookies').textContent = wanted.length ? wanted.join('; ') : 'none';
  }

  function storedConsent() {
    try { return localStorage.getItem(CONSENT_KEY); } catch (e) { return null; }
  }

  function remember(choice) {
    try { localStorage.setItem(CONSENT_KEY, choice); } catch (e) { /* private mode */ }
  }

  window.addEventListener('gdp-fbq', function (event) {
    var args = event.detail;
    var text = 'Pixel  fbq(' + args.map(function (a) { return JSON.stringify(a); }).join(', ') + ')';
    log(text, 'pixel');
  });

  var choice = storedConsent();
  pixel.initPixel({
    pixelId: config.pixelId,
    productId: config.product,
    enabled: config.enabled,
    requireConsent: config.requireConsent,
    consentGranted: choice === 'granted',
    relayUrl: config.relayUrl,
    scriptUrl: config.scriptUrl,
    events: config.events
  });
  $('consent').hidden = !config.requireConsent || choice === 'granted' || choice === 'denied';

  $('accept').addEventListener('click', function () {
    remember('granted');
    $('consent').hidden = true;
    pixel.setConsent(true);
    log('consent granted');
  });
  $('decline').addEventListener('click', function () {
    remember('denied');
    $('consent').hidden = true;
    pixel.setConsent(false);
    log('consent declined: nothing is sent');
  });
  $('withdraw').addEventListener('click', function () {
    remember('denied');
    pixel.setConsent(false);
    log('consent withdrawn: the Pixel and the server path both stop');
  });

  function buy() {
    var id = pixel.trackEvent('ProUpgrade', {
      value: 29.0,
      currency: 'USD',
      content_name: 'SnapMix Pro',
      content_ids: ['snapmix-pro'],
      content_type: 'product'
    });
    if (id) {
      try { sessionStorage.setItem('gdp-demo-last-event-id', id); } catch (e) { /* ignore */ }
      $('result').textContent = 'Purchase sent with event id ' + id;
      $('result').setAttribute('data-event-id', id);
      log('Server POST ' + config.relayUrl + '  {event_name: "Purchase", event_id: "' + id + '"}' +
        '  (Meta gets ' + config.product + ':' + id + ' from the Pixel and from GDP)', 'server');
    } else {
      $('result').textContent = 'Purchase not tracked (no consent, or the Pixel is disabled).';
      $('result').removeAttribute('data-event-id');
    }
    return id;
  }

  $('buy').addEventListener('click', buy);
  $('buy-and-go').addEventListener('click', function () {
    buy();
    window.location.href = 'thanks.html';
  });

  if (config.sandboxEventsUrl) {
    var link = document.createElement('a');
    link.href = config.sandboxEventsUrl;
    link.textContent = 'What the Meta sandbox received';
    link.target = '_blank';
    $('sandbox-link').appendChild(link);
  }
  showCookies();
})();
