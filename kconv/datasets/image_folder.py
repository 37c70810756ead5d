"""Image folders (one sub-folder per class), decoded once into uint8 tensors.

Decoding uses TorchCodec's image decoders (the successor of ``torchvision.io``'s, which
torchvision 0.29 deprecates): JPEG, PNG, WebP, GIF (first frame), AVIF.
"""

import os
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


@dataclass
class FolderData:
    """Decoded images (N, H, W, 3) uint8, int64 labels, class names, and what was skipped."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list
    counts: dict
    skipped: list = field(default_factory=list)  # (path, reason)

    def describe(self):
        lines = [f"{len(self.labels)} images in {len(self.class_names)} classes: "
                 + ", ".join(f"{n} {self.counts[n]}" for n in self.class_names)]
        if self.skipped:
            first = ", ".join(os.path.basename(p) for p, _ in self.skipped[:3])
            lines.append(f"skipped {len(self.skipped)} unreadable or non-image files "
                         f"(first: {first})")
        return "\n".join(lines)


def resize(images, size):
    """Resize (N, H, W, C) uint8 images to ``size`` (H, W), ignoring aspect ratio, with
    bilinear interpolation (OpenCV's ``INTER_LINEAR`` convention)."""
    if tuple(images.shape[1:3]) == tuple(size):
        return images
    x = images.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def list_classes(root):
    """The class sub-folders of ``root``, sorted."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Dataset folder not found: {root}")
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))
                     and not d.startswith("."))
    if not classes:
        raise ValueError(f"No class sub-folders in {root}: expected one folder of images per "
                         "class")
    return classes


def load_image_folder(root, image_size, classes=None):
    """Decode every image under ``root/<class>/`` once, resized to ``image_size`` (H, W).

    Files that are not images or cannot be decoded are skipped and reported.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: no class folders, unknown ``classes`` (the message lists those found),
            or no readable image at all.
    """
    from torchcodec.decoders import decode_image

    found = list_classes(root)
    if classes is not None:
        unknown = [c for c in classes if c not in found]
        if unknown:
            raise ValueError(f"Unknown classes {unknown} in {root}; found: {', '.join(found)}")
        found = list(classes)
    images, labels, skipped, counts = [], [], [], {}
    for label, name in enumerate(found):
        folder = os.path.join(root, name)
        counts[name] = 0
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            if not os.path.isfile(path) or entry.startswith("."):
                continue
            if not entry.lower().endswith(IMAGE_EXTENSIONS):
                skipped.append((path, "not an image file"))
                continue
            try:
                image = decode_image(path, mode="RGB")
            except (RuntimeError, ValueError) as e:
                skipped.append((path, str(e).splitlines()[0] if str(e) else "unreadable"))
                continue
            if image.ndim == 4:  # animated formats: the first frame
                image = image[0]
            images.append(resize(image.permute(1, 2, 0)[None], image_size))
            labels.append(label)
            counts[name] += 1
    if not images:
        raise ValueError(f"No readable images in {root} (classes: {', '.join(found)}; "
                         f"skipped {len(skipped)} files)")
    return FolderData(torch.cat(images), torch.tensor(labels, dtype=torch.int64), found, counts,
                      skipped)
