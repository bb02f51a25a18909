"""The function bench/isolation.py decorates with a fresh App each repetition (so every
repetition's first call finds no container). Importable by name in containers."""


def cold_noop(x):
    return x
