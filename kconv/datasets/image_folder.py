"""Image folders (one sub-folder per class), decoded once, in parallel, into uint8 tensors
that are cached on disk (:mod:`kconv.datasets.cache`) for every later run.

Decoding uses TorchCodec's image decoders (the successor of ``torchvision.io``'s, which
torchvision 0.29 deprecates): JPEG, PNG, WebP, GIF (first frame), AVIF.
"""

import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from kconv.datasets import cache as cache_lib
from kconv.validation import check_int, check_optional_function, invalid_type

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
CHUNK = 32  # files a decoding worker handles at a time


@dataclass
class FolderData:
    """Decoded images (N, H, W, 3) uint8 (memory-mapped when cached), int64 labels, class
    names, what was skipped, and where the pixels came from."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list
    counts: dict
    skipped: list = field(default_factory=list)  # (path, reason)
    source: str = ""  # how the pixels were obtained, for describe()

    def describe(self):
        lines = [f"{len(self.labels)} images in {len(self.class_names)} classes: "
                 + ", ".join(f"{n} {self.counts[n]}" for n in self.class_names)]
        if self.skipped:
            first = ", ".join(os.path.basename(p) for p, _ in self.skipped[:3])
            lines.append(f"skipped {len(self.skipped)} unreadable or non-image files "
                         f"(first: {first})")
        if self.source:
            lines.append(self.source)
        return "\n".join(lines)


def resize(images, size):
    """Resize (N, H, W, C) uint8 images to ``size`` (H, W), ignoring aspect ratio, with
    bilinear interpolation (OpenCV's ``INTER_LINEAR`` convention: half-pixel centres, no
    antialiasing; torch's fixed-point uint8 kernel, within 1 of the exact value)."""
    if tuple(images.shape[1:3]) == tuple(size):
        return images
    # A channels-first view of NHWC memory: what torch's fast uint8 kernel reads (~10x the
    # float path on a 2-core CPU).
    x = F.interpolate(images.permute(0, 3, 1, 2), size=tuple(size), mode="bilinear",
                      align_corners=False)
    return x.permute(0, 2, 3, 1).contiguous()


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


def list_files(root, classes=None):
    """``(class names, files, skipped)``: the image files of ``root/<class>/`` as
    ``(label, path, size, mtime_ns)`` in sorted order, and the other files as
    ``(path, reason)``.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: no class folders, or unknown ``classes`` (the message lists those found).
    """
    found = list_classes(root)
    if classes is not None:
        unknown = [c for c in classes if c not in found]
        if unknown:
            raise ValueError(f"Unknown classes {unknown} in {root}; found: {', '.join(found)}")
        found = list(classes)
    files, skipped = [], []
    for label, name in enumerate(found):
        with os.scandir(os.path.join(root, name)) as entries:
            entries = sorted((e for e in entries if not e.name.startswith(".")),
                             key=lambda e: e.name)
        for entry in entries:
            if not entry.is_file():
                continue
            if not entry.name.lower().endswith(IMAGE_EXTENSIONS):
                skipped.append((entry.path, "not an image file"))
                continue
            stat = entry.stat()
            files.append((label, entry.path, stat.st_size, stat.st_mtime_ns))
    return found, files, skipped


class _Chunks(Dataset):
    """Chunk ``i``: the decoded, resized images of ``CHUNK`` files, and what failed."""

    def __init__(self, paths, image_size):
        self.paths, self.image_size = paths, tuple(image_size)

    def __len__(self):
        return (len(self.paths) + CHUNK - 1) // CHUNK

    def __getitem__(self, i):
        from torchcodec.decoders import decode_image

        images, failed = [], []
        for j, path in enumerate(self.paths[i * CHUNK:(i + 1) * CHUNK]):
            try:
                image = decode_image(path, mode="RGB")
            except (RuntimeError, ValueError) as e:
                failed.append((j, str(e).splitlines()[0] if str(e) else "unreadable"))
                continue
            if image.ndim == 4:  # animated formats: the first frame
                image = image[0]
            images.append(resize(image.permute(1, 2, 0)[None], self.image_size))
        empty = torch.empty((0, *self.image_size, 3), dtype=torch.uint8)
        return torch.cat(images) if images else empty, failed


def decode_workers():
    """The decoding processes to use: one per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def decode_files(paths, image_size, *, workers=None, progress=True, on_start=None):
    """Yield ``(images, failed)`` per chunk of ``paths``, in order: the decoded images
    (k, H, W, 3) uint8 resized to ``image_size`` and ``(index in paths, reason)`` of the
    files that could not be decoded. ``workers`` processes decode (default: one per core;
    0 decodes here); ``progress`` shows a progress bar on stderr; ``on_start`` is called
    once the worker processes run, before the first chunk is awaited."""
    workers = decode_workers() if workers is None else workers
    chunks = _Chunks(paths, image_size)
    bar = None
    if progress:  # imported before on_start, which may import in a thread
        from tqdm.auto import tqdm
        bar = tqdm(total=len(paths), desc="decoding images", unit="img", mininterval=0.5,
                   leave=False)
    try:
        loader = iter(DataLoader(chunks, batch_size=None,
                                 num_workers=min(workers, len(chunks)),
                                 prefetch_factor=4 if workers else None))  # forks workers
        if on_start is not None:
            on_start()
        for i, (images, failed) in enumerate(loader):
            yield images, [(i * CHUNK + j, reason) for j, reason in failed]
            if bar is not None:
                bar.update(min(CHUNK, len(paths) - i * CHUNK))
    finally:
        if bar is not None:
            bar.close()


def _in_listing_order(found, skipped):
    """``skipped`` sorted as the folder is listed: by class, then by file name."""
    rank = {name: i for i, name in enumerate(found)}
    return sorted(skipped, key=lambda s: (rank.get(os.path.basename(os.path.dirname(s[0]))),
                                          os.path.basename(s[0])))


def _no_images(root, found, skipped):
    return ValueError(f"No readable images in {root} (classes: {', '.join(found)}; "
                      f"skipped {len(skipped)} files)")


def load_image_folder(root, image_size, classes=None, *, cache=True, cache_dir=None,
                      workers=None, progress=True, meanwhile=None):
    """Every image under ``root/<class>/``, resized to ``image_size`` (H, W).

    The first call decodes the folder with ``workers`` processes (default: one per core)
    and, with ``cache``, writes the result to ``cache_dir`` (default
    :func:`~kconv.datasets.cache.default_cache_dir`); later calls on the same files at the
    same size map that cache without decoding. Files that are not images or cannot be
    decoded are skipped and reported. A cache folder that cannot be written is reported on
    stderr and the folder decoded into memory.

    ``meanwhile``, a function of no arguments, runs once before the call returns: in a
    thread while the worker processes decode (started after they are forked, so they
    inherit none of its half-done work), or here when there is nothing to decode. train.py
    imports Lightning there, so that a first run pays for the import and the decode
    together. Its exception is raised after the folder is loaded. When the load fails, a
    started ``meanwhile`` is waited for and the load's exception is raised; it is not run
    when the load fails before decoding.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: no class folders, unknown ``classes`` (the message lists those found),
            no readable image at all, or a size or ``workers`` out of range.
        TypeError: ``image_size`` is not a pair of ints, ``workers`` not an int,
            ``meanwhile`` not callable.
    """
    if not (isinstance(image_size, (tuple, list)) and len(image_size) == 2):
        raise invalid_type("image_size", "a (height, width) pair", image_size)
    image_size = tuple(check_int("image_size", s) for s in image_size)
    workers = decode_workers() if workers is None else check_int("workers", workers, 0)
    check_optional_function("meanwhile", meanwhile, "a function of no arguments or None")
    found, files, skipped = list_files(root, classes)
    if not files:
        raise _no_images(root, found, skipped)
    job = _Job(root, found, files, skipped, image_size, workers, progress,
               _Meanwhile(meanwhile))
    try:
        data = _through_cache(job, cache_dir or cache_lib.default_cache_dir()) \
            if cache else None
        if data is None:
            parts = []
            labels, failed = job.decode(parts.append)
            data = job.result(torch.cat(parts), torch.tensor(labels, dtype=torch.int64),
                              failed, job.decoded("(not cached)"))
    except BaseException:
        job.meanwhile.wait()  # no thread left running behind a failed load
        raise
    job.meanwhile.finish()
    return data


class _Meanwhile:
    """``fn`` (or None) run once: in a thread from :meth:`start`, else in :meth:`finish`,
    which waits for it and raises its exception in the caller's thread."""

    def __init__(self, fn):
        self.fn, self.thread, self.error = fn, None, None

    def _run(self):
        try:
            self.fn()
        except BaseException as e:
            self.error = e

    def start(self):
        if self.fn is not None and self.thread is None:
            self.thread = threading.Thread(target=self._run, name="kconv-meanwhile",
                                           daemon=True)
            self.thread.start()

    def wait(self):
        """Wait for a started thread, without raising."""
        if self.thread is not None:
            self.thread.join()

    def finish(self):
        if self.fn is None:
            return
        if self.thread is None:
            self._run()
        self.wait()
        if self.error is not None:
            raise self.error


@dataclass
class _Job:
    """What one load decodes, and how the result is reported."""

    root: str
    found: list
    files: list
    skipped: list  # the non-image files
    image_size: tuple
    workers: int
    progress: bool
    meanwhile: _Meanwhile
    start: float = field(default_factory=time.perf_counter)

    def decode(self, write):
        """Decode the files, passing each chunk's images to ``write``; returns ``(labels,
        failed)``: the labels of the decoded images and ``(path, reason)`` of the others.

        Raises:
            ValueError: no file could be decoded.
        """
        labels, failed_files, done = [], [], 0
        for chunk, failed in decode_files([f[1] for f in self.files], self.image_size,
                                          workers=self.workers, progress=self.progress,
                                          on_start=self.meanwhile.start):
            bad = {i for i, _ in failed}
            size = len(chunk) + len(bad)
            labels.extend(self.files[i][0] for i in range(done, done + size) if i not in bad)
            failed_files.extend((self.files[i][1], reason) for i, reason in failed)
            done += size
            if len(chunk):
                write(chunk)
        if not labels:
            raise _no_images(self.root, self.found, self.skipped + failed_files)
        return labels, failed_files

    def decoded(self, where):
        """How long decoding took, and with how many processes, followed by ``where``."""
        workers = max(self.workers, 1)
        return (f"decoded with {workers} process{'es' if workers > 1 else ''} in "
                f"{time.perf_counter() - self.start:.1f} s {where}")

    def result(self, images, labels, failed, source):
        counts = np.bincount(labels.numpy(), minlength=len(self.found)).tolist()
        return FolderData(images, labels, self.found, dict(zip(self.found, counts)),
                          _in_listing_order(self.found, self.skipped + failed), source)


def _through_cache(job, cache_dir):
    """The folder from its cache entry, opened or first written; None when the cache folder
    cannot be written (said on stderr)."""
    slot, digest = cache_lib.entry_name(job.root, job.image_size, job.found, job.files)
    name = f"{slot}-{digest}"
    expected = {"format": cache_lib.FORMAT, "digest": digest,
                "image_size": list(job.image_size), "class_names": job.found}
    entry, reason = cache_lib.open_entry(os.path.join(cache_dir, name), expected)
    if entry is not None:
        images, labels, meta = entry
        return job.result(images, labels, [tuple(f) for f in meta["failed"]],
                          f"opened from the cache {os.path.join(cache_dir, name)}")
    if reason != "no cache yet":
        cache_lib.warn(f"rebuilding the image cache: {reason}")
    try:
        tmp = cache_lib.begin_entry(cache_dir, name)
    except cache_lib.CacheWriteError as e:
        cache_lib.warn(f"{e}; decoding into memory this time (choose a writable folder with "
                       "--cache-dir, or turn the cache off with --no-cache)")
        return None
    try:
        with open(os.path.join(tmp, "images.u8"), "wb") as f:
            labels, failed = job.decode(lambda chunk: f.write(chunk.numpy().data))
        meta = {**expected, "root": os.path.realpath(job.root), "count": len(labels),
                "failed": [list(f) for f in failed]}
        folder = cache_lib.commit_entry(tmp, cache_dir, name, np.asarray(labels), meta)
    except BaseException:
        cache_lib.abandon_entry(tmp)
        raise
    entry, reason = cache_lib.open_entry(folder, expected)
    if entry is None:
        raise RuntimeError(f"the image cache just written is unreadable: {reason}")
    return job.result(entry[0], entry[1], failed, job.decoded(f"and cached in {folder}"))
