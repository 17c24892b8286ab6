/**
 * POST /api/tracking/meta-event: this product's Meta relay (GAP-005), an App Router route handler.
 *
 * Adds the visitor's IP, user agent, `_fbp`/`_fbc` and `source_product = PRODUCT_ID` to the
 * page's event and forwards it to GDP (`GDP_API_URL`, `GDP_SERVICE_KEY`; the PRD's
 * `WAITLISTLAB_API_URL` and `WAITLISTLAB_SERVICE_KEY` are accepted too); answers
 * `{"disabled": true}` until `META_CAPI_RELAY_ENABLED=true` and GDP has the relay switched on for
 * this product. The rules live in lib/tracking/meta-relay.js.
 */
import { relayMetaEvent } from '../../../../lib/tracking/meta-relay.js';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/** @param {Request} request */
export async function POST(request) {
  return relayMetaEvent(request);
}
