"""``labs practice mlops``."""
