"""The ``joinedup`` command: thin faces over the parts (parse, call, format)."""
