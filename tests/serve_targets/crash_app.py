"""A service that fails at import with a recognisable message (tests the log tail)."""

raise RuntimeError("serve-target refuses to start: missing SETTING_XYZ")
