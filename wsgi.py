import sys

from portal import create_app
from portal.config import ConfigurationError

try:
    app = create_app()
except ConfigurationError as error:
    # One line that says what to set, not a traceback (flask CLI and gunicorn alike).
    sys.exit(f"AlphaPulse Portal cannot start: {error}")
