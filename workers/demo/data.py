"""Demo people: leads and signups from several products, messy the way real data is."""

from __future__ import annotations

from typing import Any

# The same humans arrive from several products, with case and whitespace variants of their
# email, partial fields, and later touches that must not overwrite the first one.
DEMO_LEADS: list[dict[str, Any]] = [
    {
        "email": "Maya.Chen@Example.com",
        "first_name": "Maya",
        "last_name": "Chen",
        "phone": "+1 (415) 555-0101",
        "source_product": "waitlistlab",
        "utm_source": "meta",
        "utm_medium": "paid",
        "utm_campaign": "waitlistlab | Prospecting | Lead",
        "meta_lead_form_id": "771000000001",
        "meta_fbc": "fb.1.1764300000000.IwAR0mayaClick",
        "identities": [{"provider": "meta", "external_id": "lead_9000001"}],
    },
    {
        "email": "  maya.chen@example.com ",
        "source_product": "snapmix",
        "utm_source": "google",
        "lifecycle_stage": "activated",
        "identities": [{"provider": "supabase_auth", "external_id": "2b1f6c52-snapmix-maya"}],
    },
    {
        "email": "MAYA.CHEN@EXAMPLE.COM",
        "source_product": "softwarehub",
        "country": "US",
        "lifecycle_stage": "customer",
        "identities": [{"provider": "stripe", "external_id": "cus_Maya001"}],
    },
    {
        "email": "jonas.weber@example.de",
        "first_name": "Jonas",
        "last_name": "Weber",
        "phone": "0049 30 901820",
        "country": "DE",
        "source_product": "softwarehub",
        "utm_source": "newsletter",
        "identities": [{"provider": "stripe", "external_id": "cus_Jonas42"}],
    },
    {
        "email": "jonas.weber@example.de",
        "source_product": "vellopad",
        "utm_source": "meta",
        "identities": [{"provider": "posthog", "external_id": "ph_jonas_7"}],
    },
    {
        "email": "aiko@example.jp",
        "first_name": "Aiko",
        "last_name": "Tanaka",
        "source_product": "velvethold",
        "utm_source": "meta",
        "utm_medium": "paid",
        "meta_fbp": "fb.1.1764200000000.1122334455",
    },
    {
        "email": "sam.rivera@example.com",
        "first_name": "Sam",
        "source_product": "steadyletters",
        "phone": "+44 20 7946 0958",
        "country": "GB",
    },
    {
        "email": "Sam.Rivera@example.com",
        "last_name": "Rivera",
        "source_product": "blogcanvas",
        "utm_source": "twitter",
        "properties": {"plan": "pro"},
    },
    {
        "email": "lee@example.org",
        "source_product": "gapradar",
        "utm_source": "meta",
        "utm_campaign": "gapradar | Retargeting | Signup",
    },
]

# Deliberately bad input the demo shows being refused, with nothing written.
DEMO_BAD_INPUT: list[tuple[str, list[dict[str, Any]]]] = [
    ("a malformed email", [{"email": "not-an-email", "source_product": "snapmix"}]),
    ("an unknown lifecycle stage", [{"email": "x@example.com", "lifecycle_stage": "vip"}]),
    (
        "an identity already linked to someone else",
        [
            {
                "email": "lee@example.org",
                "identities": [{"provider": "stripe", "external_id": "cus_Maya001"}],
            }
        ],
    ),
]
