"""The market's input rule every other package uses: what a symbol may look like.

Whether a well-formed symbol is a known instrument needs the database, so that is the
market's queries' job (`instrument_exists`, `known_symbols`).
"""

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,15}$")
MAX_SYMBOL_LENGTH = 16
TICKER_HINT = "symbol must be a ticker such as AAPL"


def ticker(value: str) -> str:
    """`value` upper-cased when it is a well-formed ticker; ValueError otherwise."""
    value = value.strip().upper()
    if not SYMBOL.match(value):
        raise ValueError(TICKER_HINT)
    return value


# A symbol as requests carry it: trimmed, upper-cased, 1 to 16 characters of a ticker.
Symbol = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SYMBOL_LENGTH),
    AfterValidator(ticker),
]
