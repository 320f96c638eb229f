"""Card-platform template files (`<card>.json`, import format) and the Python that generates them."""
