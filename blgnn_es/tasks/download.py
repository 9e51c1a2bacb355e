"""`blgnn-es data download`: fetch an idx image set into the user cache, on request only.

Nothing else in blgnn-es touches the network. Each file goes to a temporary name, is checked
as an IDX file, then renamed, so an interrupted download never looks like data.
"""

import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..errors import DataError
from .idx import IMAGE_MAGIC, LABEL_MAGIC, read_idx
from .store import SPLIT_FILES, WHERE_TO_GET, cache_root

__all__ = ["MIRRORS", "download_dataset"]

MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}


def download_dataset(name: str, root: Path | None = None, timeout: float = 30.0,
                     report: Callable[[str], None] = print) -> Path:
    """Fetch the four files of `name` into <root>/<name>/ (root: the user cache) and
    return that folder; files already there are kept. DataError when nothing can be
    fetched, saying where to get the files by hand."""
    if name not in MIRRORS:
        raise DataError(f"cannot download {name!r}; downloadable: {', '.join(MIRRORS)}")
    folder = (root or cache_root()) / name
    folder.mkdir(parents=True, exist_ok=True)
    for stem in SPLIT_FILES:
        target = folder / (stem + ".gz")
        if target.exists():
            report(f"{target}: already there")
            continue
        failures = []
        for mirror in MIRRORS[name]:
            url = mirror + target.name
            try:
                _fetch(url, target, timeout)
            except (urllib.error.URLError, OSError, DataError) as err:
                failures.append(f"{url}: {getattr(err, 'reason', None) or err}")
                continue
            report(f"{target}: downloaded from {url}")
            break
        else:
            _remove_if_empty(folder)
            raise DataError(
                f"could not download {target.name} for {name} ({'; '.join(failures)}); "
                f"no network? Get the files from {WHERE_TO_GET[name]} and put them in {folder}"
            )
    return folder


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # holds files (or is not ours to remove): keep it


def _fetch(url: str, target: Path, timeout: float) -> None:
    handle = tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False)
    try:
        with handle, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                handle.write(chunk)
        read_idx(Path(handle.name), IMAGE_MAGIC if "images" in target.name else LABEL_MAGIC)
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
