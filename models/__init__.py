"""The tutorials' networks built from kconv layers (filled in by the models issue)."""
