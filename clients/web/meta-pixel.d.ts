/**
 * GDP Meta Pixel snippet (GAP-005): the Meta Pixel and the server relay with one event id.
 * Types for `meta-pixel.js` (ES module) and `meta-pixel.global.js` (`window.GDPMetaPixel`).
 */

export interface PixelOptions {
  /** The Meta Pixel (dataset) id: 5 to 20 digits. Required to be active. */
  pixelId?: string | number;
  /** The product's GDP id (the relay's `PRODUCT_ID`); namespaces the Pixel's `eventID`. Required to be active. */
  productId?: string;
  /** Must be `true` to be active, e.g. `process.env.NEXT_PUBLIC_META_PIXEL_ENABLED === 'true'`. */
  enabled?: boolean;
  /** The product's relay endpoint. Default `/api/tracking/meta-event`. */
  relayUrl?: string;
  /** Load, fire, store and relay nothing until consent is granted. Default `false`. */
  requireConsent?: boolean;
  /** Consent already given (e.g. remembered by the consent banner). */
  consentGranted?: boolean;
  /** Domain for the `_fbc` cookie, e.g. `example.com`. Default: the registrable domain. */
  cookieDomain?: string;
  /** Product event names to Meta event names, e.g. `{ ProUpgrade: 'Purchase' }`. */
  events?: Record<string, string>;
  /** Load the Pixel from here when the page has no `fbq` (default Meta's); `false`: never. */
  scriptUrl?: string | false;
}

/** custom_data for Meta: value, currency, content_ids, ... Never personal data. */
export type EventParams = Record<string, unknown>;

export declare const VERSION: string;
/** Meta's standard events (`fbq('track', ...)`); other names use `fbq('trackCustom', ...)`. */
export declare const STANDARD_EVENTS: readonly string[];
export declare const META_SCRIPT_URL: string;
export declare const DEFAULT_RELAY_URL: string;
/** 90 days, in seconds. */
export declare const FBC_MAX_AGE_SECONDS: number;

/** Set the Pixel up; inactive without `enabled: true` and a pixel id. */
export declare function initPixel(options?: PixelOptions): { active: boolean; consent: boolean };
/** Grant (starts the Pixel: PageView) or withdraw (stops the Pixel and the relay at once). */
export declare function setConsent(granted: boolean): void;
/**
 * Fire the Pixel and relay the server event with one event id.
 * @returns the event id, or null when nothing was sent (inactive, no consent, invalid name).
 */
export declare function trackEvent(name: string, params?: EventParams): string | null;
/** Whether events are being sent now (active and consented). */
export declare function isActive(): boolean;
/** The `_fbc` cookie, if any. */
export declare function getFbc(): string | null;
/** The `_fbp` cookie the Pixel set, if any. */
export declare function getFbp(): string | null;
/** A random v4 UUID. */
export declare function uuid(): string;
/** The fbclid of a URL (case kept) when it is a plausible click id. */
export declare function fbclidOf(url: string): string | null;
/** The event id Meta receives for a product's event: `<productId>:<eventId>` (Pixel and CAPI alike). */
export declare function metaEventId(productId: string, eventId: string): string;
/** Meta's subdomainIndex for a cookie domain (null: host-only). */
export declare function subdomainIndex(domain: string | null): number;
/** The registrable domain of the page's host, or null (localhost, IP addresses). */
export declare function registrableDomain(): string | null;

declare global {
  interface Window {
    GDPMetaPixel: {
      VERSION: typeof VERSION;
      STANDARD_EVENTS: typeof STANDARD_EVENTS;
      META_SCRIPT_URL: typeof META_SCRIPT_URL;
      DEFAULT_RELAY_URL: typeof DEFAULT_RELAY_URL;
      FBC_MAX_AGE_SECONDS: typeof FBC_MAX_AGE_SECONDS;
      initPixel: typeof initPixel;
      setConsent: typeof setConsent;
      trackEvent: typeof trackEvent;
      isActive: typeof isActive;
      getFbc: typeof getFbc;
      getFbp: typeof getFbp;
      uuid: typeof uuid;
      fbclidOf: typeof fbclidOf;
      metaEventId: typeof metaEventId;
      subdomainIndex: typeof subdomainIndex;
      registrableDomain: typeof registrableDomain;
    };
  }
}
