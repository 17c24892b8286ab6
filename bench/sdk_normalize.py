"""What a user writes with Meta's official SDK to do what `gdp meta normalize` does: read JSON
lines of user_data on stdin, print the Meta-ready (normalized, hashed) user_data of each.

    python bench/sdk_normalize.py < people.jsonl > user_data.jsonl

The baseline of bench/bench_cli_normalize.py. Field names are the PRD's (`email`, `phone`, ...);
the SDK takes one list per field and a Gender enum. The SDK raises on some bad values (an email
without a dot, a phone with letters, a country name), which loses the whole line: it is
reported on stderr and the script goes on.
"""

from __future__ import annotations

import json
import sys

from facebook_business.adobjects.serverside.gender import Gender
from facebook_business.adobjects.serverside.user_data import UserData

GENDERS = {"m": Gender.MALE, "male": Gender.MALE, "man": Gender.MALE,
           "f": Gender.FEMALE, "female": Gender.FEMALE, "woman": Gender.FEMALE}  # fmt: skip
LISTS = {"email": "emails", "phone": "phones", "first_name": "first_names",
         "last_name": "last_names", "date_of_birth": "dates_of_birth", "city": "cities",
         "state": "states", "zip": "zip_codes", "country": "country_codes",
         "external_id": "external_ids"}  # fmt: skip
SINGLE = ("client_ip_address", "client_user_agent", "fbc", "fbp")


def main() -> None:
    out = sys.stdout
    for number, line in enumerate(sys.stdin, start=1):
        raw = json.loads(line)
        kwargs = {LISTS[k]: [v] for k, v in raw.items() if k in LISTS and v}
        kwargs.update({k: raw[k] for k in SINGLE if raw.get(k)})
        gender = GENDERS.get(str(raw.get("gender", "")).strip().lower())
        try:
            user_data = UserData(genders=[gender] if gender else None, **kwargs).normalize()
        except (TypeError, ValueError) as exc:
            sys.stderr.write(f"line {number}: {exc}\n")
            continue
        out.write(json.dumps(user_data, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
