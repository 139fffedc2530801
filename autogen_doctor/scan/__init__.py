"""Static analysis: discover -> parse -> facts -> rules -> findings -> reporters."""
