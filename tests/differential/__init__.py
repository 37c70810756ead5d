"""The differential fuzzer: random Keras models checked against Keras itself (see
``check.py``); ``python -m tests.differential --help`` runs its deep tier."""
