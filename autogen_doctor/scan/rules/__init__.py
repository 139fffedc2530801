"""One rule per module; see `autogen_doctor.scan.registry` for how they are registered."""
