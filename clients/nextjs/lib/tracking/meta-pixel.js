/**
 * lib/tracking/meta-pixel.js: the PRD's browser API for a Next.js product (GAP-005).
 *
 *   import { initPixel, trackEvent, setConsent } from '@/lib/tracking/meta-pixel';
 *   initPixel();                                   // once, in a client component's useEffect
 *   trackEvent('Purchase', { value: 29, currency: 'USD' });
 *
 * Disabled by default: active only when NEXT_PUBLIC_META_PIXEL_ENABLED=true and
 * NEXT_PUBLIC_META_PIXEL_ID and NEXT_PUBLIC_GDP_PRODUCT_ID (the relay's PRODUCT_ID) are set (read
 * at build time, as Next.js inlines NEXT_PUBLIC_*).
 * NEXT_PUBLIC_META_PIXEL_REQUIRE_CONSENT=true waits for setConsent(true) before anything.
 * trackEvent fires the Pixel and posts to /api/tracking/meta-event (route.js beside it) with
 * one event id, so Meta deduplicates the two. The behaviour is meta-pixel-core.js, a generated
 * copy of GDP's clients/web/meta-pixel.js.
 */
import {
  getFbc,
  getFbp,
  initPixel as initCore,
  isActive,
  setConsent,
  trackEvent,
} from './meta-pixel-core.js';

export { getFbc, getFbp, isActive, setConsent, trackEvent };

/**
 * The NEXT_PUBLIC_* settings. Written out literally so that Next.js can inline them.
 * @returns {{enabled?: string, pixelId?: string, productId?: string, requireConsent?: string}}
 */
function publicEnv() {
  if (typeof process === 'undefined' || !process.env) return {};
  return {
    enabled: process.env.NEXT_PUBLIC_META_PIXEL_ENABLED,
    pixelId: process.env.NEXT_PUBLIC_META_PIXEL_ID,
    productId: process.env.NEXT_PUBLIC_GDP_PRODUCT_ID,
    requireConsent: process.env.NEXT_PUBLIC_META_PIXEL_REQUIRE_CONSENT,
  };
}

/**
 * Start the Pixel from the environment; options override it (e.g. `consentGranted` from the
 * consent banner, `events: { ProUpgrade: 'Purchase' }`).
 * @param {import('./meta-pixel-core.js').PixelOptions} [options]
 */
export function initPixel(options = {}) {
  const env = publicEnv();
  return initCore({
    enabled: env.enabled === 'true',
    pixelId: env.pixelId,
    productId: env.productId,
    requireConsent: env.requireConsent === 'true',
    ...options,
  });
}
