import copy

import keras
import numpy as np
import pytest
import torch

from kconv import optimizers

SHAPES = [(3, 4), (5,)]
CASES = [
    ("Adam", dict(learning_rate=0.01)),
    ("Adam", dict(learning_rate=0.01, beta_1=0.8, epsilon=1e-3, amsgrad=True)),
    ("Adam", dict(learning_rate=0.01, weight_decay=0.1)),
    ("RMSprop", dict()),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.9, centered=True)),
    ("RMSprop", dict(learning_rate=0.01, rho=0.5, momentum=0.5)),
    ("SGD", dict()),
    ("SGD", dict(learning_rate=0.1, momentum=0.9)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
]


def _run_keras(name, kwargs, decay, w0, grads):
    kwargs = dict(kwargs)
    if decay:
        lr = kwargs.pop("learning_rate", getattr(optimizers, name)(
            [torch.zeros(1, requires_grad=True)]).defaults["lr"])
        kwargs["learning_rate"] = keras.optimizers.schedules.InverseTimeDecay(
            lr, decay_steps=1, decay_rate=decay)
    opt = getattr(keras.optimizers, name)(**kwargs)
    variables = [keras.Variable(w) for w in w0]
    for step in grads:
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step], variables))
    return [keras.ops.convert_to_numpy(v) for v in variables]


def _run_kconv(name, kwargs, decay, w0, grads):
    params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in w0]
    opt = getattr(optimizers, name)(params, decay=decay, **kwargs)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.from_numpy(g)
        opt.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("decay", [0.0, 0.05])
@pytest.mark.parametrize("name,kwargs", CASES)
def test_twenty_steps_match_keras(name, kwargs, decay):
    rng = np.random.default_rng(12)
    w0 = [rng.standard_normal(s).astype("float32") for s in SHAPES]
    grads = [[rng.standard_normal(s).astype("float32") for s in SHAPES] for _ in range(20)]
    expected = _run_keras(name, kwargs, decay, w0, grads)
    actual = _run_kconv(name, kwargs, decay, w0, grads)
    for a, e, w in zip(actual, expected, w0):
        assert not np.allclose(a, w)
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def test_keras_defaults():
    p = [torch.zeros(1, requires_grad=True)]
    assert optimizers.Adam(p).defaults["lr"] == 0.001
    assert optimizers.Adam(p).defaults["epsilon"] == 1e-7
    assert optimizers.RMSprop(p).defaults["lr"] == 0.001
    assert optimizers.RMSprop(p).defaults["rho"] == 0.9
    assert optimizers.SGD(p).defaults["lr"] == 0.01


def test_legacy_decay_uses_the_pre_increment_iteration():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = optimizers.SGD([p], learning_rate=0.1, decay=0.01)
    rates = []
    for _ in range(3):
        rates.append(opt.current_lr(opt.param_groups[0]))
        p.grad = torch.ones(1)
        opt.step()
    np.testing.assert_allclose(rates, [0.1, 0.0990099, 0.0980392], rtol=1e-6)


def test_state_dict_round_trip_continues_identically():
    def make():
        p = torch.nn.Parameter(torch.ones(3))
        return p, optimizers.Adam([p], learning_rate=0.1, decay=0.1)

    p1, opt1 = make()
    for _ in range(3):
        p1.grad = torch.full((3,), 0.5)
        opt1.step()
    p2, opt2 = make()
    with torch.no_grad():
        p2.copy_(p1)
    opt2.load_state_dict(copy.deepcopy(opt1.state_dict()))  # as if read from a file
    assert opt2.param_groups[0]["iterations"] == 3
    for p, opt in ((p1, opt1), (p2, opt2)):
        p.grad = torch.full((3,), -0.25)
        opt.step()
    assert torch.equal(p1, p2)


def test_get_and_validation():
    made = optimizers.get("RMSprop")
    assert type(made) is optimizers.RMSprop and not made.bound
    bound = optimizers.SGD([torch.zeros(1, requires_grad=True)])
    assert optimizers.get(bound) is bound
    with pytest.raises(ValueError) as info:
        optimizers.get("adagrad")
    assert str(info.value) == ("Invalid value for argument `optimizer`: expected one of ('adam', "
                               "'rmsprop', 'sgd'). Received: optimizer='adagrad'")
    with pytest.raises(ValueError) as info:
        optimizers.Adam([torch.zeros(1, requires_grad=True)], learning_rate=-1)
    assert str(info.value) == ("Invalid value for argument `learning_rate`: expected a number "
                               ">= 0.0. Received: learning_rate=-1.0")
    with pytest.raises(TypeError, match="not both"):
        optimizers.Adam([torch.zeros(1, requires_grad=True)], learning_rate=0.5, lr=0.1)
    with pytest.raises(TypeError, match="by keyword"):
        optimizers.SGD(0.1, 0.9)
    with pytest.raises(RuntimeError, match="already bound"):
        bound.bind([torch.zeros(1, requires_grad=True)])
    with pytest.raises(TypeError, match="optimizer"):
        optimizers.get(3)


@pytest.mark.parametrize("make", [
    lambda: optimizers.SGD(0.05, momentum=0.9), lambda: optimizers.SGD(lr=0.05, momentum=0.9),
    lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9)])
def test_keras_spellings_without_parameters_bind_later(make):
    """Keras's ``SGD(0.05)``, Keras 2's ``lr=``: unbound until compile binds them, then
    the same as an optimizer created with the parameters."""
    opt = make()
    assert not opt.bound and opt.learning_rate == 0.05 and "unbound" in repr(opt)
    p1, p2 = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    opt.bind([p1])
    reference = optimizers.SGD([p2], learning_rate=0.05, momentum=0.9)
    for _ in range(3):
        for p, o in ((p1, opt), (p2, reference)):
            p.grad = torch.full((3,), 0.5)
            o.step()
    assert torch.equal(p1, p2)
    opt.learning_rate = 0.01
    assert opt.param_groups[0]["lr"] == 0.01 and opt.lr == 0.01
