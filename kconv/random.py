"""Seeded random generators for layers that take Keras's ``seed`` argument."""

import torch

from kconv.validation import invalid_value, is_int


class SeededGenerators:
    """One ``torch.Generator`` per device, seeded with ``seed``; with ``seed=None``,
    :meth:`get` returns None (torch's global RNG). Pickles as its seed alone (generators
    cannot be pickled); a restored copy starts the stream again."""

    def __init__(self, seed):
        if seed is not None and not is_int(seed):
            raise invalid_value("seed", "None or an int", seed)
        self.seed = seed
        self._generators = {}

    def get(self, device):
        if self.seed is None:
            return None
        device = torch.device(device)
        if device not in self._generators:
            from kconv.distribution import seed_offset
            self._generators[device] = torch.Generator(device).manual_seed(
                self.seed + seed_offset())
        return self._generators[device]

    def __getstate__(self):
        return {"seed": self.seed, "_generators": {}}
