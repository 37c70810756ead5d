"""Forward + backward time of kconv ``Conv2D`` vs the hand-written torch equivalent and vs
Keras 3's ``Conv2D`` (torch backend), on the same inputs, printed as ratios from one run.

The hand-written baseline is what a careful torch user writes: ``nn.Conv2d`` plus the same
explicit TF 'same' padding (``F.pad`` only when asymmetric), with the NHWC <-> NCHW permutes
for channels_last data. Target: kconv / torch <= 1.02.

Run: python benchmarks/conv2d.py [--repeats 5] [--no-keras] [--device cuda]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from kconv import padding as pad_math  # noqa: E402
from kconv.layers import Conv2D  # noqa: E402

# (name, batch, H, W, C_in, filters, kernel, stride, padding)
CONFIGS = [
    ("stridednet conv1 96->45", 32, 96, 96, 3, 16, 7, 2, "valid"),
    ("3x3 same 45x45", 32, 45, 45, 16, 32, 3, 1, "same"),
    ("3x3 s2 same 45->23 (sym)", 32, 45, 45, 32, 32, 3, 2, "same"),
    ("3x3 s2 same 12->6 (asym)", 32, 12, 12, 64, 128, 3, 2, "same"),
    ("mnist 3x3 valid 28x28", 64, 28, 28, 1, 32, 3, 1, "valid"),
    ("4x4 same (even kernel)", 32, 32, 32, 32, 32, 4, 1, "same"),
]


class HandWritten(torch.nn.Module):
    """nn.Conv2d with explicit TF padding: the torch code kconv must not be slower than."""

    def __init__(self, conv, padding, channels_last):
        super().__init__()
        self.conv, self.padding, self.channels_last = conv, padding, channels_last

    def forward(self, x):
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        if self.padding == "same":
            pads = pad_math.same_padding_2d(x.shape[-2:], self.conv.kernel_size,
                                            self.conv.stride)
            (t, b), (l, r) = pads
            if t == b and l == r:
                self.conv.padding = (t, l)
            else:
                self.conv.padding = (0, 0)
                x = F.pad(x, (l, r, t, b))
        y = self.conv(x)
        return y.permute(0, 2, 3, 1) if self.channels_last else y


def time_step(fn, x, repeats, inner):
    def step():
        out = fn(x)
        out.sum().backward()

    for _ in range(3):
        step()
    samples = []
    for _ in range(repeats):
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(inner):
            step()
        if x.is_cuda:
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) / inner)
    return samples


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--inner", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-keras", action="store_true", help="skip the Keras column")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    keras = None
    if not args.no_keras:
        import keras

    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()}")
    header = f"{'config':<28} {'format':<15} {'kconv ms':>9} {'torch ms':>9} {'keras ms':>9}" \
             f" {'kconv/torch':>12} {'kconv/keras':>12}"
    print(header)
    print("-" * len(header))
    ratios = []
    for name, n, h, w, cin, filters, k, s, pad in CONFIGS:
        for fmt in ("channels_last", "channels_first"):
            last = fmt == "channels_last"
            shape = (n, h, w, cin) if last else (n, cin, h, w)
            x = torch.randn(shape, device=args.device, requires_grad=True)
            ours = Conv2D(filters, k, strides=s, padding=pad, data_format=fmt)
            ours.build_for((None,) + shape[1:])
            ours.to(args.device)
            conv = torch.nn.Conv2d(cin, filters, k, s).to(args.device)
            with torch.no_grad():
                conv.weight.copy_(ours.weight)
                conv.bias.copy_(ours.bias)
            theirs = HandWritten(conv, pad, last)
            assert torch.allclose(ours(x), theirs(x), atol=1e-5)
            contenders = {"kconv": ours, "torch": theirs}
            if keras is not None and args.device == "cpu":
                k_layer = keras.layers.Conv2D(filters, k, strides=s, padding=pad, data_format=fmt)
                k_layer.build(shape)
                contenders["keras"] = k_layer
            # Interleave contenders so machine noise hits them alike; keep each one's median.
            samples = {key: [] for key in contenders}
            for _ in range(args.repeats):
                for key, fn in contenders.items():
                    samples[key] += time_step(fn, x, 1, args.inner)
            med = {key: statistics.median(v) * 1e3 for key, v in samples.items()}
            ratio = med["kconv"] / med["torch"]
            ratios.append(ratio)
            keras_ms = f"{med['keras']:9.2f}" if "keras" in med else f"{'-':>9}"
            vs_keras = f"{med['kconv'] / med['keras']:12.2f}" if "keras" in med else f"{'-':>12}"
            print(f"{name:<28} {fmt:<15} {med['kconv']:9.2f} {med['torch']:9.2f} {keras_ms}"
                  f" {ratio:12.3f} {vs_keras}")
    print(f"\ngeometric mean kconv/torch: {statistics.geometric_mean(ratios):.3f} "
          "(target <= 1.02)")


if __name__ == "__main__":
    main()
