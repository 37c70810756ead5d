"""Keras's dtype policies: each layer computes in its policy's compute dtype (float16 or
bfloat16 under a mixed policy, through ``torch.autocast``) and keeps its variables in
float32.

A layer takes the global policy when it is made (``set_global_policy``), or its own
``dtype=`` argument. Under the default float32 policy a layer does nothing about precision,
so a ``torch.autocast`` of your own (Lightning's ``bf16-mixed``) still applies to it;
a layer given ``dtype="float32"`` computes in float32 even inside a mixed model or an
autocast region, as Keras's guide has the final softmax.
"""

import warnings

import torch

from kconv.validation import invalid_type, invalid_value

_NAMES = {"float32": (torch.float32, torch.float32),
          "mixed_float16": (torch.float16, torch.float32),
          "mixed_bfloat16": (torch.bfloat16, torch.float32)}
_REFUSED = ("float16", "bfloat16", "float64")
_GLOBAL = {"policy": None}
HALF = (torch.float16, torch.bfloat16)


def as_float32(tensor):
    """A half-precision tensor in float32; any other tensor as it is (float64 stays)."""
    return tensor.float() if tensor.dtype in HALF else tensor


class DTypePolicy:
    """A layer's computation and variable dtypes.

    Args:
        name: 'float32', 'mixed_float16' (compute in float16, variables in float32) or
            'mixed_bfloat16'; default: the global policy's name.

    Raises:
        ValueError: any other name (kconv keeps variables in float32, so Keras's
            'float16', 'bfloat16' and 'float64' policies and quantized ones are refused).

    Example:
        >>> DTypePolicy("mixed_float16").compute_dtype
        'float16'
    """

    def __init__(self, name=None):
        if name is None:
            name = global_policy().name
        if not isinstance(name, str):
            raise invalid_type("name", "a policy name such as 'mixed_float16'", name)
        if name not in _NAMES:
            hint = " (kconv keeps variables in float32: use 'mixed_" + name + "')" \
                if name in ("float16", "bfloat16") else ""
            raise invalid_value("name", f"one of {tuple(_NAMES)}{hint}", name)
        self._name = name
        self._compute, self._variable = _NAMES[name]

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        """The dtype layers compute in, as Keras names it ('float16', ...)."""
        return str(self._compute).removeprefix("torch.")

    @property
    def variable_dtype(self):
        return str(self._variable).removeprefix("torch.")

    @property
    def torch_compute_dtype(self):
        return self._compute

    @property
    def quantization_mode(self):
        return None

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy  # Keras's legacy name


def get(identifier):
    """A :class:`DTypePolicy` from a name, a policy, or Keras's serialized policy (``{
    "class_name": "DTypePolicy", "config": {"name": ...}}``); None: the global one."""
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, torch.dtype):
        identifier = str(identifier).removeprefix("torch.")
    serialized = isinstance(identifier, dict) and \
        identifier.get("class_name") in ("DTypePolicy", "Policy")
    if serialized:
        return DTypePolicy(**(identifier.get("config") or {}))
    if isinstance(identifier, str):
        if identifier in _REFUSED or identifier in _NAMES:
            return DTypePolicy(identifier)
        raise invalid_value("dtype", f"a policy name, one of {tuple(_NAMES)}", identifier)
    raise invalid_type("dtype", "a policy name such as 'mixed_float16' or a DTypePolicy",
                       identifier)


def set_global_policy(policy):
    """The policy of every layer made from now on (and of ``fit``'s loss scaling):
    'mixed_float16', 'mixed_bfloat16', 'float32' or a :class:`DTypePolicy`; None resets
    it to float32.

    Example:
        >>> kconv.mixed_precision.set_global_policy("mixed_bfloat16")
    """
    _GLOBAL["policy"] = None if policy is None else get(policy)


def global_policy():
    """The global :class:`DTypePolicy` (float32 unless set)."""
    return _GLOBAL["policy"] or DTypePolicy("float32")


set_dtype_policy = set_global_policy  # Keras 3's names (keras.config too)
dtype_policy = global_policy


def _cpu_flags():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def native_bfloat16():
    """Whether this CPU computes bfloat16 in hardware (AVX-512 BF16, AMX, Arm BF16); None
    where it cannot be told."""
    flags = _cpu_flags()
    if flags is None:
        return None
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


_WARNED = set()


def warn_if_slow(device_type, dtype):
    """Say once per process that bfloat16 on a CPU without it in hardware is emulated (and
    that float16 on a CPU is too, outside the newest ones): slower than float32."""
    if device_type != "cpu" or dtype not in HALF:
        return
    native = native_bfloat16() if dtype == torch.bfloat16 else \
        bool((_cpu_flags() or set()) & {"avx512_fp16", "amx_fp16"})
    if native is False and dtype not in _WARNED:
        _WARNED.add(dtype)
        name = str(dtype).removeprefix("torch.")
        warnings.warn(f"This CPU has no {name} arithmetic in hardware: {name} compute is "
                      f"emulated and will be slower than float32 (mixed precision pays on "
                      f"GPUs and on CPUs that have it)", UserWarning,
                      stacklevel=4)
