// The relay's cookie and click-id rules against the shared golden vectors (tests/golden/*.json),
// the same files the Python rules (workers/meta/fbc.py, normalize.py) are tested with.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { validCookie } from '../lib/tracking/meta-relay.js';

const golden = (name) =>
  JSON.parse(readFileSync(new URL(`../../../tests/golden/${name}`, import.meta.url), 'utf8'));
const FBC = golden('fbc.json');

test('fbc and fbp cookies: the golden verdicts, trimmed', () => {
  for (const { kind, value, valid } of FBC.cookies) {
    assert.equal(validCookie(kind, value), valid ? value : null, `${kind} ${value}`);
    assert.equal(validCookie(kind, ` ${value}\t`), valid ? value : null, `${kind} ${value}`);
  }
});

test('a click id built from a valid fbclid is a valid fbc cookie', () => {
  for (const { fbclid, valid } of FBC.fbclid) {
    if (valid) assert.equal(validCookie('fbc', `fb.1.1554763741205.${fbclid}`), `fb.1.1554763741205.${fbclid}`);
  }
});
