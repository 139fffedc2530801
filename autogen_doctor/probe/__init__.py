"""Live probe: plan -> send -> transcript -> analysis -> verdict -> reporters."""
