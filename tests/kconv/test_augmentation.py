import numpy as np
import pytest
import torch
from keras.src.legacy.preprocessing.image import apply_affine_transform

from kconv.augmentation import ImageAugmentation

KEYS = ("theta", "tx", "ty", "shear", "zx", "zy")


def _params(n=1, flip_h=False, flip_v=False, **values):
    full = {**dict(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0), **values}
    params = {k: torch.full((n,), float(full[k])) for k in KEYS}
    params["flip_horizontal"] = torch.full((n,), flip_h)
    params["flip_vertical"] = torch.full((n,), flip_v)
    return params, full


@pytest.mark.parametrize("size", [(9, 9), (7, 11), (12, 5)])
@pytest.mark.parametrize("values", [dict(theta=20), dict(tx=2), dict(ty=-3.5), dict(shear=15),
                                    dict(zx=1.2, zy=0.8),
                                    dict(theta=-10, tx=1.5, ty=0.5, shear=5, zx=0.9, zy=1.1)])
@pytest.mark.parametrize("fill_mode,cval", [("nearest", 0.0), ("constant", 0.3)])
def test_transform_matches_keras_image_data_generator(size, values, fill_mode, cval):
    img = np.random.default_rng(14).random(size + (3,)).astype("float32")
    params, full = _params(**values)
    expected = apply_affine_transform(img, row_axis=0, col_axis=1, channel_axis=2, order=1,
                                      fill_mode=fill_mode, cval=cval, **full)
    last = ImageAugmentation(fill_mode=fill_mode, cval=cval, data_format="channels_last")
    out = last.apply(torch.from_numpy(img)[None], params)[0]
    np.testing.assert_allclose(out.numpy(), expected, atol=2e-6)
    first = ImageAugmentation(fill_mode=fill_mode, cval=cval, data_format="channels_first")
    out = first.apply(torch.from_numpy(img.transpose(2, 0, 1))[None], params)[0]
    np.testing.assert_allclose(out.numpy(), expected.transpose(2, 0, 1), atol=2e-6)


def _dot(h=9, w=9, row=4, col=4):
    img = torch.zeros(1, h, w, 1)
    img[0, row, col, 0] = 1.0
    return img


def _where(img):
    return tuple(int(i) for i in (img[0, :, :, 0] == img.max()).nonzero()[0])


def test_shift_moves_content_by_whole_pixels():
    aug = ImageAugmentation()
    # Keras 3: tx (from height_shift_range) moves content along the width, ty along height.
    assert _where(aug.apply(_dot(col=6), _params(tx=2)[0])) == (4, 4)
    assert _where(aug.apply(_dot(row=6), _params(ty=2)[0])) == (4, 4)
    assert _where(aug.apply(_dot(), _params(tx=-3)[0])) == (4, 7)


def test_flips_mirror():
    img = torch.arange(12.0).reshape(1, 3, 4, 1)
    aug = ImageAugmentation()
    assert torch.allclose(aug.apply(img, _params(flip_h=True)[0]), img.flip(2), atol=1e-5)
    assert torch.allclose(aug.apply(img, _params(flip_v=True)[0]), img.flip(1), atol=1e-5)
    both = _params(flip_h=True, flip_v=True, theta=10)[0]
    rotated = aug.apply(img, {**both, "flip_horizontal": torch.tensor([False]),
                              "flip_vertical": torch.tensor([False])})
    assert torch.allclose(aug.apply(img, both), rotated.flip(1).flip(2), atol=1e-5)
    assert ImageAugmentation(horizontal_flip=True).active and not ImageAugmentation().active
    x = torch.rand(2, 4, 4, 1)
    assert ImageAugmentation()(x) is x  # nothing configured: untouched, as in Keras


def test_nearest_fill_replicates_edges():
    img = torch.arange(5.0).repeat(5, 1).reshape(1, 5, 5, 1)  # columns 0..4
    out = ImageAugmentation().apply(img, _params(tx=2)[0])[0, :, :, 0]
    assert torch.equal(out[0], torch.tensor([2.0, 3, 4, 4, 4]))
    out = ImageAugmentation(fill_mode="constant", cval=-1).apply(img, _params(tx=2)[0])
    assert torch.equal(out[0, 0, :, 0], torch.tensor([2.0, 3, 4, -1, -1]))


def test_sampled_parameters_follow_keras_ranges():
    aug = ImageAugmentation(rotation_range=20, width_shift_range=0.2, height_shift_range=0.1,
                            shear_range=15, zoom_range=0.15, horizontal_flip=True, seed=0)
    p = aug.sample(20000, (30, 40))
    assert -20 <= p["theta"].min() < -19.8 and 19.8 < p["theta"].max() <= 20
    assert abs(p["theta"].mean()) < 0.3
    assert p["tx"].abs().max() <= 0.1 * 30 and p["tx"].abs().max() > 0.99 * 3  # height x H
    assert p["ty"].abs().max() <= 0.2 * 40 and p["ty"].abs().max() > 0.99 * 8  # width x W
    for key in ("zx", "zy"):
        assert 0.85 <= p[key].min() < 0.86 and 1.14 < p[key].max() <= 1.15
    assert abs(torch.corrcoef(torch.stack([p["zx"], p["zy"]]))[0, 1]) < 0.03  # independent
    assert abs(p["flip_horizontal"].float().mean() - 0.5) < 0.02
    assert not p["flip_vertical"].any()
    assert len(torch.unique(p["theta"])) > 19900  # every sample draws its own (float32 ties)


def test_integer_and_list_shift_ranges():
    aug = ImageAugmentation(width_shift_range=3, height_shift_range=[0.25, 0.5], seed=1)
    p = aug.sample(4000, (8, 8))
    assert set(p["ty"].tolist()) == {-2.0, -1.0, 0.0, 1.0, 2.0}  # choice(3) * ±1, pixels
    assert set(p["tx"].tolist()) == {-4.0, -2.0, 2.0, 4.0}  # list of fractions, times H


def test_seeded_training_mode_only():
    x = torch.rand(4, 8, 8, 3)
    a = ImageAugmentation(rotation_range=30, seed=3)
    b = ImageAugmentation(rotation_range=30, seed=3)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), x)
    a.eval()
    assert a(x) is x


def test_validation():
    with pytest.raises(ValueError) as info:
        ImageAugmentation(fill_mode="wrap")
    assert str(info.value) == ("Invalid value for argument `fill_mode`: expected one of "
                               "('nearest', 'constant'). Received: fill_mode='wrap'")
    with pytest.raises(ValueError) as info:
        ImageAugmentation(zoom_range=-0.1)
    assert str(info.value) == ("Invalid value for argument `zoom_range`: expected a number in "
                               "[0.0, 1.0]. Received: zoom_range=-0.1")
    assert ImageAugmentation(zoom_range=[0.5, 2]).zoom_range == (0.5, 2.0)
