"""helpers.data: the registry, downloads through pooch, checksums, offline errors, and the
shapes, dtypes and labels every loader documents.

Downloads are exercised for real over HTTP against a server on 127.0.0.1 (the only address
the test session may connect to); the official copies come from DL4HEALTH_DATA_DIR.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import io
import shutil
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import data

# --------------------------------------------------------------------------- fixtures

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    """A folder served over real HTTP on 127.0.0.1; yields (folder, base URL, request log)."""
    root = tmp_path / "www"
    root.mkdir()
    requests_seen = []

    class Handler(_QuietHandler):
        def do_GET(self):
            requests_seen.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", requests_seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def official_data(shared_data_dir, monkeypatch):
    """Point the loader at the verified copies, downloads off."""
    monkeypatch.setenv(data.ENV_DATA_DIR, str(shared_data_dir))
    monkeypatch.setenv(data.ENV_OFFLINE, "1")
    return shared_data_dir


def _serve_from(monkeypatch, name, base_url, filename):
    """Re-point dataset `name`'s single file at base_url/filename (same checksum)."""
    entry = data.REGISTRY[name]
    moved = tuple(dataclasses.replace(f, url=f"{base_url}/{filename}") for f in entry.files)
    monkeypatch.setitem(data.REGISTRY, name, dataclasses.replace(entry, files=moved))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens once closed: connection refused


# --------------------------------------------------------------------------- registry

def test_registry_covers_every_course_dataset():
    assert set(data.REGISTRY) == {"pneumoniamnist", "breastmnist", "ecg5000", "ecg_excerpt",
                                  "mitbih_100", "breast_cancer"}
    for d in data.REGISTRY.values():
        assert d.licence and d.citation and d.title
        for f in d.files:
            assert f.url.startswith("https://"), f
            alg, _, digest = f.known_hash.partition(":")
            assert alg in ("md5", "sha256") and len(digest) == {"md5": 32, "sha256": 64}[alg], f


def test_registry_checksums_match_the_official_copies(shared_data_dir):
    for d in data.REGISTRY.values():
        for f in d.files:
            assert data._is_valid(shared_data_dir / f.path, f.known_hash), f.path


def test_data_dir_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_DATA_DIR, str(tmp_path))
    assert data.data_dir() == tmp_path
    monkeypatch.delenv(data.ENV_DATA_DIR)
    assert "dl4health" in str(data.data_dir())  # pooch's per-user cache


def test_unknown_dataset_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"unknown dataset 'xray'.*pneumoniamnist"):
        data.fetch("xray")


# --------------------------------------------------------------------------- downloads

def test_first_use_downloads_over_http_verifies_and_caches(http_root, empty_data_dir, shared_data_dir,
                                                           monkeypatch):
    root, url, seen = http_root
    shutil.copy(shared_data_dir / "breastmnist.npz", root / "breastmnist.npz")
    _serve_from(monkeypatch, "breastmnist", url, "breastmnist.npz")

    x, y = data.load_breastmnist("test")
    assert x.shape == (156, 28, 28, 1) and y.shape == (156,)
    assert seen == ["/breastmnist.npz"]
    assert (empty_data_dir / "breastmnist.npz").read_bytes() == (root / "breastmnist.npz").read_bytes()
    assert [p.name for p in empty_data_dir.iterdir()] == ["breastmnist.npz"]  # no temp file left

    data.load_breastmnist("val")  # cached: no second request
    assert seen == ["/breastmnist.npz"]


def test_download_with_wrong_checksum_is_rejected_and_leaves_nothing(http_root, empty_data_dir,
                                                                     shared_data_dir, monkeypatch):
    root, url, _ = http_root
    good = (shared_data_dir / "breastmnist.npz").read_bytes()
    (root / "breastmnist.npz").write_bytes(good[: len(good) // 2])  # truncated on the server
    _serve_from(monkeypatch, "breastmnist", url, "breastmnist.npz")

    with pytest.raises(data.DatasetUnavailableError, match=r"(?s)breastmnist.*hash"):
        data.load_breastmnist()
    leftovers = list(empty_data_dir.rglob("*")) if empty_data_dir.exists() else []
    assert [p for p in leftovers if p.is_file()] == []


@pytest.mark.parametrize("damage", ["truncated", "flipped byte"])
def test_corrupt_local_file_is_never_used_offline(tmp_path, monkeypatch, shared_data_dir, damage):
    good = (shared_data_dir / "breastmnist.npz").read_bytes()
    bad = good[:-100] if damage == "truncated" else good[:500] + bytes([good[500] ^ 0xFF]) + good[501:]
    (tmp_path / "breastmnist.npz").write_bytes(bad)
    monkeypatch.setenv(data.ENV_DATA_DIR, str(tmp_path))
    monkeypatch.setenv(data.ENV_OFFLINE, "1")

    with pytest.raises(data.DatasetUnavailableError, match="corrupt"):
        data.load_breastmnist()
    assert data.status()["breastmnist"] == "corrupt"


def test_corrupt_local_file_is_replaced_by_a_verified_download(http_root, empty_data_dir, shared_data_dir,
                                                               monkeypatch):
    root, url, seen = http_root
    shutil.copy(shared_data_dir / "breastmnist.npz", root / "breastmnist.npz")
    _serve_from(monkeypatch, "breastmnist", url, "breastmnist.npz")
    empty_data_dir.mkdir()
    (empty_data_dir / "breastmnist.npz").write_bytes(b"not an npz file")

    x, _ = data.load_breastmnist("train")
    assert x.shape == (546, 28, 28, 1)
    assert seen == ["/breastmnist.npz"]
    assert data.status()["breastmnist"] == "ok"


def test_missing_file_offline_names_dataset_url_folder_and_variable(empty_data_dir, monkeypatch):
    monkeypatch.setenv(data.ENV_OFFLINE, "1")
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load_pneumoniamnist()
    msg = str(err.value)
    for needed in ["pneumoniamnist", data.REGISTRY["pneumoniamnist"].files[0].url,
                   str(empty_data_dir), "DL4HEALTH_DATA_DIR", "missing", "DL4HEALTH_OFFLINE"]:
        assert needed in msg, f"{needed!r} not in:\n{msg}"


def test_missing_file_with_the_network_down_says_what_to_do(empty_data_dir, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}/pneumoniamnist.npz"
    _serve_from(monkeypatch, "pneumoniamnist", url.rsplit("/", 1)[0], "pneumoniamnist.npz")
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load_pneumoniamnist()
    msg = str(err.value)
    for needed in ["pneumoniamnist", url, str(empty_data_dir), "DL4HEALTH_DATA_DIR", "download failed",
                   "ConnectionError"]:
        assert needed in msg, f"{needed!r} not in:\n{msg}"
    assert not empty_data_dir.exists() or not any(empty_data_dir.rglob("*.npz"))


def test_real_urls_are_unreachable_from_tests(empty_data_dir):
    """The session blocks non-loopback connections: a hidden download fails loudly."""
    with pytest.raises(data.DatasetUnavailableError, match="download failed"):
        data.load_ecg_excerpt()


def _zip_with(member: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(member, payload)
        z.writestr("ECG5000_TEST.txt", b"1 0.0\n")  # the archive holds more than we need
    return buf.getvalue()


def test_ecg5000_member_is_extracted_from_the_zip_and_verified(http_root, empty_data_dir, shared_data_dir,
                                                               monkeypatch):
    root, url, seen = http_root
    member = (shared_data_dir / "ECG5000_TRAIN.txt").read_bytes()
    (root / "ECG5000.zip").write_bytes(_zip_with("ECG5000_TRAIN.txt", member))
    _serve_from(monkeypatch, "ecg5000", url, "ECG5000.zip")

    x, y = data.load_ecg5000()
    assert x.shape == (500, 140, 1) and y.shape == (500,)
    assert seen == ["/ECG5000.zip"]
    assert sorted(p.name for p in empty_data_dir.iterdir()) == ["ECG5000_TRAIN.txt"]  # zip not kept


def test_ecg5000_member_with_wrong_checksum_is_rejected(http_root, empty_data_dir, shared_data_dir,
                                                        monkeypatch):
    root, url, _ = http_root
    member = (shared_data_dir / "ECG5000_TRAIN.txt").read_bytes()
    (root / "ECG5000.zip").write_bytes(_zip_with("ECG5000_TRAIN.txt", member.replace(b"1", b"2", 1)))
    _serve_from(monkeypatch, "ecg5000", url, "ECG5000.zip")

    with pytest.raises(data.DatasetUnavailableError, match="does not match"):
        data.load_ecg5000()
    assert not (empty_data_dir / "ECG5000_TRAIN.txt").exists()


def test_status_reports_without_downloading(empty_data_dir, official_data, monkeypatch):
    assert set(data.status().values()) == {"ok"}
    monkeypatch.setenv(data.ENV_DATA_DIR, str(empty_data_dir))
    st = data.status()
    assert st["breast_cancer"] == "ok"  # ships with scikit-learn
    assert {v for k, v in st.items() if k != "breast_cancer"} == {"missing"}


def test_copy_to_makes_an_offline_folder(official_data, tmp_path, monkeypatch):
    out = data.copy_to(tmp_path / "usb", ["mitbih_100", "ecg_excerpt"])
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "ecg.dat", "mitdb/100.atr", "mitdb/100.dat", "mitdb/100.hea"]
    monkeypatch.setenv(data.ENV_DATA_DIR, str(out))
    assert data.status()["mitbih_100"] == "ok"


# --------------------------------------------------------------------------- loaders

@pytest.mark.parametrize("loader, split, n, counts", [
    (data.load_pneumoniamnist, "train", 4708, (1214, 3494)),
    (data.load_pneumoniamnist, "val", 524, (135, 389)),
    (data.load_pneumoniamnist, "test", 624, (234, 390)),
    (data.load_breastmnist, "train", 546, (147, 399)),
    (data.load_breastmnist, "test", 156, (42, 114)),
])
def test_medmnist_shapes_dtypes_and_labels(official_data, loader, split, n, counts):
    x, y = loader(split)
    assert x.shape == (n, 28, 28, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    assert y.shape == (n,) and y.dtype == np.int64
    assert tuple(np.bincount(y, minlength=2)) == counts
    raw, _ = loader(split, normalise=False)
    assert raw.dtype == np.uint8 and raw.shape == x.shape
    np.testing.assert_array_equal(raw.astype(np.float32) / 255, x)


def test_medmnist_rejects_an_unknown_split(official_data):
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'val', 'test'\), got 'validation'"):
        data.load_pneumoniamnist("validation")


def test_ecg5000_shapes_and_class_counts(official_data):
    x, y = data.load_ecg5000()
    assert x.shape == (500, 140, 1) and x.dtype == np.float32
    assert y.dtype == np.int64 and tuple(np.bincount(y)) == (292, 177, 10, 19, 2)
    assert len(data.LABELS["ecg5000"]) == 5
    # each beat is z-normalised by the archive
    np.testing.assert_allclose(x[:, :, 0].mean(axis=1), 0, atol=1e-3)
    np.testing.assert_allclose(x[:, :, 0].std(axis=1), 1, atol=1e-2)


def test_ecg_excerpt_in_millivolts(official_data):
    ecg, fs = data.load_ecg_excerpt()
    assert ecg.shape == (108000,) and ecg.dtype == np.float64 and fs == 360.0
    assert -5 < ecg.min() < 0 < ecg.max() < 5  # millivolts, not raw ADC units


def test_mitbih_record_100(official_data):
    rec = data.load_mitbih_record()
    assert rec.signal.shape == (650000, 2) and rec.signal.dtype == np.float64
    assert rec.fs == 360.0 and rec.leads == ("MLII", "V5")
    symbols, counts = np.unique(rec.beat_symbols, return_counts=True)
    assert dict(zip(symbols.tolist(), counts.tolist())) == {"N": 2239, "A": 33, "V": 1, "+": 1}
    assert rec.beat_samples.dtype == np.int64 and np.all(np.diff(rec.beat_samples) > 0)


def test_breast_cancer_table():
    X, y, names = data.load_breast_cancer()
    assert X.shape == (569, 30) and X.dtype == np.float64
    assert y.dtype == np.int64 and tuple(np.bincount(y)) == (212, 357)
    assert len(names) == 30 and all(type(n) is str for n in names)
    assert data.LABELS["breast_cancer"] == ("malignant", "benign")


def test_loaders_never_unpickle(official_data, tmp_path, monkeypatch):
    """An npz holding a pickled object is refused, not executed."""
    evil = tmp_path / "breastmnist.npz"
    np.savez(evil, train_images=np.array([object()], dtype=object), train_labels=np.zeros((1, 1)))
    entry = data.REGISTRY["breastmnist"]
    import pooch

    digest = "md5:" + pooch.file_hash(str(evil), alg="md5")
    monkeypatch.setitem(data.REGISTRY, "breastmnist", dataclasses.replace(
        entry, files=(dataclasses.replace(entry.files[0], known_hash=digest),)))
    monkeypatch.setenv(data.ENV_DATA_DIR, str(tmp_path))
    with pytest.raises(ValueError, match="allow_pickle"):
        data.load_breastmnist()


def test_dataset_files_are_not_committed():
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                                 check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    names = {f.path.rsplit("/", 1)[-1] for d in data.REGISTRY.values() for f in d.files}
    assert not {Path(t).name for t in tracked} & names


def test_breast_cancer_splits_are_stratified_standardised_and_repeatable():
    s = data.load_breast_cancer_splits(seed=0)
    assert (s.X_train.shape, s.X_val.shape, s.X_test.shape) == ((341, 30), (114, 30), (114, 30))
    X, y_benign, _ = data.load_breast_cancer()
    assert s.y_train.sum() + s.y_val.sum() + s.y_test.sum() == (y_benign == 0).sum()  # 1 = malignant
    for yy in (s.y_train, s.y_val, s.y_test):
        assert abs(yy.mean() - 212 / 569) < 0.01  # stratified
    np.testing.assert_allclose(s.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(s.X_train.std(axis=0), 1, atol=1e-12)
    assert np.abs(s.X_test.mean(axis=0)).max() > 1e-3  # test scaled with train statistics, not its own
    # the rows are the original patients, unscaled back exactly
    back = s.X_test * s.std + s.mean
    assert all(np.isclose(X, row).all(axis=1).any() for row in back[:5])
    again = data.load_breast_cancer_splits(seed=0)
    np.testing.assert_array_equal(s.X_test, again.X_test)
    assert not np.array_equal(s.X_test, data.load_breast_cancer_splits(seed=1).X_test)


def test_breast_cancer_splits_reject_bad_sizes():
    with pytest.raises(ValueError, match="sum below 1, got 0.5 and 0.5"):
        data.load_breast_cancer_splits(val_size=0.5, test_size=0.5)
