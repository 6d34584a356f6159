"""Rules, evaluation, report writers and the `monitor` CLI."""
