"""The course's datasets: a registry (URL, checksum, licence, citation) and loaders.

Every loader returns NumPy arrays with the shapes, dtypes and label meanings stated in its
docstring. Files are fetched with pooch: downloaded on first use from the official URL into
a temporary file, verified against the registered checksum, then moved into place (so a
half-written or corrupt file is never used), and cached.

Where the files live
--------------------
``DL4HEALTH_DATA_DIR`` when set (CI and the tests point it at verified copies), otherwise
pooch's per-user cache folder (``~/.cache/dl4health`` on Linux). Set ``DL4HEALTH_OFFLINE=1``
to forbid downloads: a missing file then fails at once with instructions.

=================  ==========================================  ===========================
name               loader                                      returns
=================  ==========================================  ===========================
pneumoniamnist     load_pneumoniamnist(split)                  x (N,28,28,1) f32, y (N,)
breastmnist        load_breastmnist(split)                     x (N,28,28,1) f32, y (N,)
ecg5000            load_ecg5000()                              x (500,140,1) f32, y (500,)
ecg_excerpt        load_ecg_excerpt()                          ecg (108000,) f64 mV, fs
mitbih_100         load_mitbih_record()                        MitBihRecord
breast_cancer      load_breast_cancer()                        X (569,30) f64, y, names
=================  ==========================================  ===========================
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

ENV_DATA_DIR = "DL4HEALTH_DATA_DIR"
ENV_OFFLINE = "DL4HEALTH_OFFLINE"

__all__ = [
    "REGISTRY", "LABELS", "DataFile", "Dataset", "DatasetUnavailableError", "data_dir",
    "fetch", "status", "load_pneumoniamnist", "load_breastmnist", "load_ecg5000",
    "load_ecg_excerpt", "load_mitbih_record", "MitBihRecord", "load_breast_cancer",
    "load_breast_cancer_splits", "TabularSplits", "copy_to",
]


class DatasetUnavailableError(RuntimeError):
    """A dataset file is missing or corrupt and could not be (re)downloaded."""


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset.

    path: where it sits under the data directory (``mitdb/100.dat``: in a subfolder).
    url: the official download address.
    known_hash: ``"md5:..."`` or ``"sha256:..."`` of the file itself.
    archive_member: when the URL is a zip archive, the member to extract (the hash is the
        member's, since the archive publishes none).
    """

    path: str
    url: str
    known_hash: str
    archive_member: str | None = None


@dataclass(frozen=True)
class Dataset:
    """A registry entry: files, licence, citation, and the meaning of its labels."""

    name: str
    title: str
    files: tuple[DataFile, ...]
    licence: str
    citation: str
    labels: tuple[str, ...] = field(default=())


_MEDMNIST_CITATION = ("Yang et al., MedMNIST v2, Scientific Data 10:41 (2023); "
                      "Yang, Shi, Ni, MedMNIST, ISBI 2021")
_PHYSIONET_CITATION = ("Moody & Mark, IEEE Engineering in Medicine and Biology 20(3):45-50 (2001); "
                       "Goldberger et al., Circulation 101(23):e215-e220 (2000)")
_MITDB = "https://physionet.org/files/mitdb/1.0.0/"

REGISTRY: dict[str, Dataset] = {d.name: d for d in [
    Dataset(
        "pneumoniamnist", "PneumoniaMNIST: paediatric chest X-rays, 28x28 grey",
        (DataFile("pneumoniamnist.npz",
                  "https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1",
                  "md5:28209eda62fecd6e6a2d98b1501bb15f"),),
        "CC BY 4.0",
        _MEDMNIST_CITATION + "; Kermany et al., Cell 172(5):1122-1131 (2018)",
        ("normal", "pneumonia"),
    ),
    Dataset(
        "breastmnist", "BreastMNIST: breast ultrasound, 28x28 grey",
        (DataFile("breastmnist.npz",
                  "https://zenodo.org/records/10519652/files/breastmnist.npz?download=1",
                  "md5:750601b1f35ba3300ea97c75c52ff8f6"),),
        "CC BY 4.0",
        _MEDMNIST_CITATION + "; Al-Dhabyani et al., Data in Brief 28:104863 (2020)",
        ("malignant", "normal or benign"),
    ),
    Dataset(
        "ecg5000", "ECG5000 (train split): 500 heartbeats of 140 samples, one patient",
        (DataFile("ECG5000_TRAIN.txt",
                  "https://timeseriesclassification.com/aeon-toolkit/ECG5000.zip",
                  "sha256:0d96aff193311a6dc6111bf0dbd2f7d2313987fbf7a1da4a383d92563876057b",
                  archive_member="ECG5000_TRAIN.txt"),),
        "no formal licence stated by the UCR archive",
        "Dau et al., IEEE/CAA J. Autom. Sinica 6(6) (2019); Chen et al., DMKD 29(6) (2015); "
        "Baim et al., JACC 7(3):661-670 (1986); Goldberger et al. (2000)",
        ("normal", "R-on-T premature ventricular contraction", "premature ventricular contraction",
         "supraventricular premature or ectopic beat", "unclassified beat"),
    ),
    Dataset(
        "ecg_excerpt", "5 minutes of MIT-BIH record 208, lead MLII, 360 Hz (SciPy's ECG)",
        (DataFile("ecg.dat", "https://raw.githubusercontent.com/scipy/dataset-ecg/main/ecg.dat",
                  "sha256:f20ad3365fb9b7f845d0e5c48b6fe67081377ee466c3a220b7f69f35c8958baf"),),
        "ODC-By 1.0", _PHYSIONET_CITATION,
    ),
    Dataset(
        "mitbih_100", "MIT-BIH Arrhythmia Database record 100: 30 min, 2 leads, beat labels",
        (DataFile("mitdb/100.dat", _MITDB + "100.dat",
                  "sha256:b2ea3c250e56e48f4b7b90697832b8ecd1afa1e0bb31f2dcfea4ed6e1075a639"),
         DataFile("mitdb/100.hea", _MITDB + "100.hea",
                  "sha256:309c8a1d71baee199620a53b8f210cb7bcbaa978af961d191e5b69beb58dd343"),
         DataFile("mitdb/100.atr", _MITDB + "100.atr",
                  "sha256:8d8a5349fb16638ebbf649f1779d12e96d91b736b2aafe59db43719ae583d471")),
        "ODC-By 1.0", _PHYSIONET_CITATION,
    ),
    Dataset(
        "breast_cancer", "Wisconsin Diagnostic Breast Cancer: 569 tumours x 30 features",
        (),  # ships inside scikit-learn: nothing to download
        "CC BY 4.0 (UCI Machine Learning Repository)",
        "Street, Wolberg, Mangasarian, Proc. SPIE 1905:861-870 (1993)",
        ("malignant", "benign"),
    ),
]}

#: name -> class names, index = label value.
LABELS: dict[str, tuple[str, ...]] = {name: d.labels for name, d in REGISTRY.items() if d.labels}


def data_dir() -> Path:
    """The folder datasets are read from and downloaded to (see the module docstring)."""
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("dl4health"))


def _offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() not in ("", "0", "false", "no")


def _is_valid(path: Path, known_hash: str) -> bool:
    import pooch

    return path.is_file() and pooch.file_hash(str(path), alg=known_hash.split(":")[0]) == known_hash.split(":")[1]


def _unavailable(dataset: Dataset, f: DataFile, folder: Path, reason: str) -> DatasetUnavailableError:
    target = folder / f.path
    return DatasetUnavailableError(
        f"dataset {dataset.name!r} ({dataset.title}): file {f.path!r} is not available.\n"
        f"  reason: {reason}\n"
        f"  looked in: {target}\n"
        f"  official URL: {f.url}\n"
        f"  checksum expected: {f.known_hash}\n"
        f"To fix it, either connect to the internet and call the loader again (it downloads and "
        f"verifies the file), or download the file from the URL yourself"
        + (f" (extract {f.archive_member!r} from the zip)" if f.archive_member else "")
        + f" into {target.parent}, or set {ENV_DATA_DIR} to a folder that already holds {f.path!r}."
        + (f" Downloads are switched off because {ENV_OFFLINE} is set." if _offline() else ""))


def _download(dataset: Dataset, f: DataFile, folder: Path) -> None:
    """Fetch ``f`` into ``folder`` with pooch; raise DatasetUnavailableError on any failure.

    pooch streams to a temporary file beside the target, checks the hash, and only then
    moves it into place: an interrupted or corrupt download never replaces a file.
    """
    import pooch

    target = folder / f.path
    existed = target.exists()
    if _offline():
        why = "present but its checksum does not match (corrupt or truncated)" if existed else "missing"
        raise _unavailable(dataset, f, folder, f"{why}, and downloads are off")
    try:
        if f.archive_member is None:
            pooch.retrieve(f.url, known_hash=f.known_hash, fname=target.name, path=target.parent)
        else:
            _download_member(f, target)
    except Exception as err:  # network down, blocked, HTTP error, hash mismatch, disk full ...
        why = "present but corrupt (checksum mismatch)" if existed else "missing"
        raise _unavailable(dataset, f, folder,
                           f"{why}, and the download failed: {type(err).__name__}: {err}") from err


def _download_member(f: DataFile, target: Path) -> None:
    """Download the zip at f.url to a scratch folder, extract one member, verify, move in."""
    import pooch

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".dl4health-") as scratch:
        # The archive publishes no checksum (known_hash=None); the member's hash is checked below.
        members = pooch.retrieve(f.url, known_hash=None, fname="archive.zip", path=scratch,
                                 processor=pooch.Unzip(members=[f.archive_member]))
        member = Path(members[0])
        if not _is_valid(member, f.known_hash):
            raise ValueError(f"{f.archive_member} extracted from {f.url} does not match {f.known_hash}")
        os.replace(member, target)  # same filesystem: atomic


def fetch(name: str) -> dict[str, Path]:
    """Make sure every file of dataset ``name`` is present and verified; return their paths.

    Returns {relative path: absolute Path}. Downloads what is missing or corrupt (unless
    DL4HEALTH_OFFLINE is set) and raises DatasetUnavailableError, naming the dataset, the
    URL, the folder and DL4HEALTH_DATA_DIR, when a file cannot be had.
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}")
    dataset = REGISTRY[name]
    folder = data_dir()
    paths = {}
    for f in dataset.files:
        target = folder / f.path
        if not _is_valid(target, f.known_hash):
            _download(dataset, f, folder)
        paths[f.path] = target
    return paths


def status() -> dict[str, str]:
    """Dataset name -> "ok", "missing" or "corrupt", checking files without downloading."""
    folder = data_dir()
    out = {}
    for name, d in REGISTRY.items():
        states = ["ok" if _is_valid(folder / f.path, f.known_hash)
                  else ("corrupt" if (folder / f.path).exists() else "missing") for f in d.files]
        out[name] = "corrupt" if "corrupt" in states else "missing" if "missing" in states else "ok"
    return out


# --------------------------------------------------------------------------- loaders

_SPLITS = ("train", "val", "test")


def _load_medmnist(name: str, split: str, normalise: bool) -> tuple[np.ndarray, np.ndarray]:
    if split not in _SPLITS:
        raise ValueError(f"load_{name}: split must be one of {_SPLITS}, got {split!r}")
    path = fetch(name)[f"{name}.npz"]
    with np.load(path, allow_pickle=False) as npz:
        images = npz[f"{split}_images"]
        labels = npz[f"{split}_labels"]
    x = images[..., np.newaxis]  # (N, 28, 28) -> NHWC (N, 28, 28, 1), as Keras' Conv2D expects
    if normalise:
        x = x.astype(np.float32) / np.float32(255.0)
    return x, labels.reshape(-1).astype(np.int64)


def load_pneumoniamnist(split: str = "train", *, normalise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Paediatric chest X-rays (PneumoniaMNIST), 28x28 grey.

    split: "train" (4708 images), "val" (524) or "test" (624).
    Returns x (N, 28, 28, 1) float32 in [0, 1] (uint8 0..255 if ``normalise=False``) and
    y (N,) int64: 0 = normal, 1 = pneumonia (train: 1214 normal / 3494 pneumonia).
    """
    return _load_medmnist("pneumoniamnist", split, normalise)


def load_breastmnist(split: str = "train", *, normalise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Breast ultrasound images (BreastMNIST), 28x28 grey.

    split: "train" (546 images), "val" (78) or "test" (156).
    Returns x (N, 28, 28, 1) float32 in [0, 1] (uint8 if ``normalise=False``) and
    y (N,) int64: 0 = malignant, 1 = normal or benign (train: 147 / 399).
    """
    return _load_medmnist("breastmnist", split, normalise)


def load_ecg5000() -> tuple[np.ndarray, np.ndarray]:
    """The 500 heartbeats of ECG5000's train split (one patient with severe heart failure).

    Returns x (500, 140, 1) float32, each beat z-normalised (the archive's preprocessing),
    as (N, T, D) for a recurrent layer, and y (500,) int64 in 0..4 (the archive's class
    minus one): 0 normal (292), 1 R-on-T premature ventricular contraction (177),
    2 premature ventricular contraction (10), 3 supraventricular premature or ectopic beat
    (19), 4 unclassified (2). Labels come from an automated annotator.
    """
    path = fetch("ecg5000")["ECG5000_TRAIN.txt"]
    table = np.loadtxt(path, dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 141:
        raise ValueError(f"load_ecg5000: expected a table (500, 141), got {table.shape} from {path.name}")
    y = table[:, 0].astype(np.int64) - 1
    x = table[:, 1:, np.newaxis].astype(np.float32)
    return x, y


def load_ecg_excerpt() -> tuple[np.ndarray, float]:
    """Five minutes of ECG (MIT-BIH record 208, lead MLII): the data of SciPy's electrocardiogram().

    Returns ecg (108000,) float64 in millivolts, (raw - 1024) / 200, and the sampling rate
    fs = 360.0 Hz. No beat labels; record 208 has many premature ventricular beats.
    """
    path = fetch("ecg_excerpt")["ecg.dat"]
    with np.load(path, allow_pickle=False) as npz:
        raw = npz["ecg"]
    return (raw.astype(np.float64) - 1024.0) / 200.0, 360.0


class MitBihRecord(NamedTuple):
    """A WFDB record with its beat annotations.

    signal: (T, n_leads) float64 in millivolts; fs: samples per second; leads: lead names;
    beat_samples: (B,) int64 sample index of each annotation; beat_symbols: (B,) str, the
    MIT-BIH code ("N" normal, "A" atrial premature, "V" premature ventricular, "+" rhythm
    change, ...).
    """

    signal: np.ndarray
    fs: float
    leads: tuple[str, ...]
    beat_samples: np.ndarray
    beat_symbols: np.ndarray


def load_mitbih_record() -> MitBihRecord:
    """MIT-BIH Arrhythmia Database record 100, read with ``wfdb``.

    Returns a MitBihRecord: signal (650000, 2) float64 mV (leads MLII and V5, 30 min at
    fs = 360 Hz), and 2274 annotations (2239 "N" normal, 33 "A" atrial premature,
    1 "V" premature ventricular, 1 "+" rhythm change).
    """
    paths = fetch("mitbih_100")
    base = str(paths["mitdb/100.dat"].with_suffix(""))
    with warnings.catch_warnings():
        # wfdb 4.3 calls pandas (on import too) in a way pandas 3 deprecates: nothing a
        # student can act on, so it is kept out of the notebooks' output.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import wfdb

        record = wfdb.rdrecord(base)
        ann = wfdb.rdann(base, "atr")
    return MitBihRecord(record.p_signal.astype(np.float64), float(record.fs), tuple(record.sig_name),
                        np.asarray(ann.sample, dtype=np.int64), np.asarray(ann.symbol, dtype=str))


def load_breast_cancer() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The Wisconsin Diagnostic Breast Cancer table, shipped inside scikit-learn (no download).

    Returns X (569, 30) float64 (features of cell nuclei from a fine-needle aspirate: mean,
    standard error and worst value of radius, texture, ...), y (569,) int64 with
    0 = malignant (212) and 1 = benign (357), and the 30 feature names.
    """
    from sklearn.datasets import load_breast_cancer as _sk_load

    bunch = _sk_load()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64), [str(n) for n in bunch.feature_names]


class TabularSplits(NamedTuple):
    """Train/validation/test arrays of a tabular dataset, standardised with train statistics.

    X_*: (N_*, D) float64, each feature scaled to mean 0, std 1 on the *training* split (the
    validation and test splits reuse those statistics: nothing about them leaks into training).
    y_*: (N_*,) int64. mean, std: (D,) the training statistics; feature_names: D names.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    feature_names: list[str]


def load_breast_cancer_splits(seed: int = 0, val_size: float = 0.2, test_size: float = 0.2) -> TabularSplits:
    """The Wisconsin table split 60/20/20 (stratified, seeded) and standardised.

    Labels are recoded so that **1 = malignant** (the disease is the positive class, as in
    a clinical test: sensitivity = share of malignant tumours found); 0 = benign. The same
    seed gives the same split in every notebook, so models from different chapters are
    compared on the same test patients.
    Returns TabularSplits: X_train (341, 30), X_val (114, 30), X_test (114, 30) with the defaults.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if not (0 < val_size < 1 and 0 < test_size < 1 and val_size + test_size < 1):
        raise ValueError(f"load_breast_cancer_splits: val_size and test_size must be in (0, 1) with a sum "
                         f"below 1, got {val_size} and {test_size}")
    X, y_benign, names = load_breast_cancer()
    y = 1 - y_benign  # 1 = malignant
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_size / (1 - test_size), stratify=y_rest, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return TabularSplits(scaler.transform(X_train), y_train, scaler.transform(X_val), y_val,
                         scaler.transform(X_test), y_test, scaler.mean_.copy(), scaler.scale_.copy(), names)


def copy_to(folder: str | os.PathLike, names: list[str] | None = None) -> Path:
    """Copy the verified files of ``names`` (default: all) into ``folder``; return it.

    For teachers preparing an offline classroom: fetch once, copy to a USB stick or a shared
    drive, and point DL4HEALTH_DATA_DIR there.
    """
    folder = Path(folder)
    for name in names or list(REGISTRY):
        for rel, path in fetch(name).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, folder / rel)
    return folder
