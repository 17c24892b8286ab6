"""Lookup tables for normalization: US/Canadian subdivisions, gender words, countries, months.

Keys of every table are "folded" text: lowercase, Latin diacritics removed, letters only
(see `_text.fold_letters`), so "New  York", "new-york" and "NEW YORK" all look up "newyork".
"""

from __future__ import annotations

from functools import cache
from typing import Final

from workers.meta._text import fold_letters

# US states, DC and the inhabited territories: USPS / ANSI (FIPS 5-2) 2-letter codes.
US_STATES: Final[dict[str, str]] = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca",
    "colorado": "co", "connecticut": "ct", "delaware": "de", "florida": "fl", "georgia": "ga",
    "hawaii": "hi", "idaho": "id", "illinois": "il", "indiana": "in", "iowa": "ia",
    "kansas": "ks", "kentucky": "ky", "louisiana": "la", "maine": "me", "maryland": "md",
    "massachusetts": "ma", "michigan": "mi", "minnesota": "mn", "mississippi": "ms",
    "missouri": "mo", "montana": "mt", "nebraska": "ne", "nevada": "nv", "newhampshire": "nh",
    "newjersey": "nj", "newmexico": "nm", "newyork": "ny", "northcarolina": "nc",
    "northdakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or", "pennsylvania": "pa",
    "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd", "tennessee": "tn",
    "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va", "washington": "wa",
    "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy",
    "districtofcolumbia": "dc", "washingtondc": "dc",
    "americansamoa": "as", "guam": "gu", "northernmarianaislands": "mp", "puertorico": "pr",
    "usvirginislands": "vi", "virginislands": "vi", "unitedstatesvirginislands": "vi",
    "unitedstatesminoroutlyingislands": "um",
}  # fmt: skip
US_STATE_CODES: Final[frozenset[str]] = frozenset(US_STATES.values())

# Canadian provinces and territories (Canada Post codes); Meta's own parameter builder maps
# these too. Codes do not collide with the US ones.
CA_PROVINCES: Final[dict[str, str]] = {
    "alberta": "ab", "britishcolumbia": "bc", "manitoba": "mb", "newbrunswick": "nb",
    "newfoundlandandlabrador": "nl", "newfoundland": "nl", "novascotia": "ns",
    "northwestterritories": "nt", "nunavut": "nu", "ontario": "on", "princeedwardisland": "pe",
    "quebec": "qc", "saskatchewan": "sk", "yukon": "yt", "yukonterritory": "yt",
}  # fmt: skip
CA_PROVINCE_CODES: Final[frozenset[str]] = frozenset(CA_PROVINCES.values())

# Gender words -> Meta's f/m. Anything else (non-binary, unknown, x, ...) cannot be expressed
# in Meta's `ge` and is dropped rather than guessed.
GENDERS: Final[dict[str, str]] = {
    "m": "m", "male": "m", "man": "m", "men": "m", "mr": "m", "mister": "m", "boy": "m",
    "he": "m", "him": "m", "masculine": "m", "masc": "m", "masculino": "m", "hombre": "m",
    "homme": "m", "masculin": "m", "mannlich": "m", "mann": "m", "maschio": "m",
    "f": "f", "female": "f", "woman": "f", "women": "f", "mrs": "f", "ms": "f", "miss": "f",
    "girl": "f", "she": "f", "her": "f", "feminine": "f", "fem": "f", "femenino": "f",
    "mujer": "f", "femme": "f", "feminin": "f", "weiblich": "f", "frau": "f", "femmina": "f",
}  # fmt: skip

MONTHS: Final[dict[str, int]] = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
# Words that may decorate a written date and carry no information ("Sunday, the 16th of ...").
DATE_NOISE: Final[frozenset[str]] = frozenset(
    {"mon", "monday", "tue", "tues", "tuesday", "wed", "wednesday", "thu", "thur", "thurs",
     "thursday", "fri", "friday", "sat", "saturday", "sun", "sunday", "the", "of",
     "st", "nd", "rd", "th"}
)  # fmt: skip

# Country names that pycountry does not know: colloquial English names and a few endonyms.
COUNTRY_ALIASES: Final[dict[str, str]] = {
    "uk": "gb", "unitedkingdom": "gb", "greatbritain": "gb", "britain": "gb", "england": "gb",
    "scotland": "gb", "wales": "gb", "northernireland": "gb",
    "america": "us", "unitedstatesofamerica": "us", "unitedstates": "us", "usofa": "us",
    "deutschland": "de", "osterreich": "at", "schweiz": "ch", "suisse": "ch", "svizzera": "ch",
    "espana": "es", "italia": "it", "nederland": "nl", "holland": "nl", "thenetherlands": "nl",
    "belgie": "be", "belgique": "be", "polska": "pl", "sverige": "se", "norge": "no",
    "danmark": "dk", "suomi": "fi", "eire": "ie", "brasil": "br", "mexique": "mx",
    "turkey": "tr", "turkiye": "tr", "russia": "ru", "korea": "kr", "southkorea": "kr",
    "northkorea": "kp", "czechia": "cz", "czechrepublic": "cz", "cesko": "cz",
    "magyarorszag": "hu", "hellas": "gr", "ellada": "gr", "nippon": "jp", "nihon": "jp",
    "uae": "ae", "emirates": "ae", "vietnam": "vn", "ivorycoast": "ci",
}  # fmt: skip


@cache
def countries() -> dict[str, str]:
    """Folded alpha-2, alpha-3, names, official and common names -> lowercase alpha-2."""
    import pycountry  # here: its database loads only when a country is to be read

    table: dict[str, str] = {}
    for country in pycountry.countries:
        alpha_2 = str(country.alpha_2).lower()
        for attribute in ("name", "official_name", "common_name"):
            name = getattr(country, attribute, None)
            if isinstance(name, str):
                table.setdefault(fold_letters(name), alpha_2)
        table[str(country.alpha_3).lower()] = alpha_2
    table.update(COUNTRY_ALIASES)
    for country in pycountry.countries:  # codes win over any name that happens to collide
        table[str(country.alpha_2).lower()] = str(country.alpha_2).lower()
    return table


@cache
def alpha_2_codes() -> frozenset[str]:
    import pycountry

    return frozenset(str(country.alpha_2).lower() for country in pycountry.countries)
