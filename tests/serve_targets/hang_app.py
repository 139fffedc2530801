"""A service whose import never finishes: it never answers (tests the ready timeout)."""

import time

time.sleep(3600)
api = None
