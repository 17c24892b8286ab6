"""`gdp worker maintenance`: retention and other housekeeping that runs on a schedule."""
