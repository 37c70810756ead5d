"""Augmenting a batch of 32 images of 96x96x3 with the StridedNet tutorial's
ImageDataGenerator settings: kconv's ImageAugmentation (one affine_grid + grid_sample call)
vs kornia's ``warp_affine`` given the same matrices, vs Keras's legacy ImageDataGenerator
(scipy, one image at a time), interleaved in rounds, printed as ratios from one run.

Run: python benchmarks/augmentation.py [--device cuda] [--repeats 20]
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from benchmarks.timing import interleaved  # noqa: E402
from kconv.augmentation import ImageAugmentation, affine_matrices, warp  # noqa: E402

SETTINGS = dict(rotation_range=20, zoom_range=0.15, width_shift_range=0.2,
                height_shift_range=0.2, shear_range=0.15, horizontal_flip=True,
                fill_mode="nearest")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    batch = torch.rand(32, 96, 96, 3, device=device)
    ours = ImageAugmentation(**SETTINGS, seed=0)
    params = ours.sample(32, (96, 96), device)
    m = affine_matrices((96, 96), *(params[k].double() for k in (
        "theta", "tx", "ty", "shear", "zx", "zy")))
    nchw = batch.permute(0, 3, 1, 2)
    contenders = {"kconv": lambda: ours(batch), "kconv warp": lambda: warp(nchw, m)}
    try:
        import kornia.geometry.transform as K
        # kornia maps source to destination: the inverse of Keras's output->input matrices.
        forward = torch.linalg.inv(m)[:, :2].float()
        contenders["kornia warp"] = lambda: K.warp_affine(nchw, forward, (96, 96),
                                                          padding_mode="border",
                                                          align_corners=True)
    except ImportError as e:
        print(f"kornia column skipped: {e}")
    try:
        from keras.src.legacy.preprocessing.image import ImageDataGenerator
        generator = ImageDataGenerator(**SETTINGS)
        images = batch.cpu().numpy()
        contenders["keras"] = lambda: [generator.random_transform(img) for img in images]
    except ImportError as e:  # scipy missing
        print(f"keras column skipped: {e}")
    times = {name: seconds * 1e3 for name, seconds in
             interleaved(contenders, args.repeats, sync=sync).items()}
    print(f"device={device} batch=32x96x96x3 torch={torch.__version__}")
    print("kconv = sampling + warp + flips; 'warp' rows = the same matrices, resampling only")
    for name, ms in times.items():
        print(f"{name:<12} {ms:9.2f} ms")
    if "kornia warp" in times:
        print(f"kconv warp / kornia warp: {times['kconv warp'] / times['kornia warp']:.2f}")
    if "keras" in times:
        print(f"kconv / keras: {times['kconv'] / times['keras']:.2f}")


if __name__ == "__main__":
    main()
