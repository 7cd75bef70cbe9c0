"""helpers.data under a download that breaks midway: nothing partial is ever left or used.

A loopback HTTP server (127.0.0.1, the only address the test session may reach) announces the
full ``Content-Length``, sends only part of the body, and closes the connection, as a dropped
Wi-Fi link or a killed proxy does. The loader must then

* raise DatasetUnavailableError naming the dataset, the URL and what failed;
* leave nothing behind in the cache folder: no file under the final name and no temporary
  file (pooch streams into a temporary file beside the target and moves it into place only
  after the checksum matched; the zip of ECG5000 goes to a scratch folder that is removed);
* leave an older (corrupt) copy exactly as it was, never half-overwritten;

and the next call, with the server healthy again, must download the whole file and verify it.
"""

from __future__ import annotations

import dataclasses
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pooch
import pytest

from helpers import data


class FlakyServer:
    """Serves ``files`` (name -> bytes); while ``cut[name]`` is set, sends only that fraction of
    the body after a Content-Length header for all of it, then closes the connection."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, float] = {}
        self.log: list[tuple[str, int, int]] = []      # (name, bytes sent, bytes announced)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):              # keep the test output clean
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                fraction = server.cut.get(name)
                sent = len(body) if fraction is None else int(len(body) * fraction)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))   # the promise: all of it
                self.end_headers()
                self.wfile.write(body[:sent])
                self.wfile.flush()
                server.log.append((name, sent, len(body)))
                self.close_connection = True                          # ... then hang up

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self, monkeypatch, dataset: str, names: dict[str, bytes]):
        """Point every file of ``dataset`` at this server (same checksums): path -> served name."""
        entry = data.REGISTRY[dataset]
        moved = []
        for f in entry.files:
            served = f.url.rsplit("/", 1)[-1].split("?")[0]
            self.files[served] = names[served]
            moved.append(dataclasses.replace(f, url=f"{self.url}/{served}"))
        monkeypatch.setitem(data.REGISTRY, dataset, dataclasses.replace(entry, files=tuple(moved)))


@pytest.fixture
def server():
    s = FlakyServer()
    thread = threading.Thread(target=s.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield s
    finally:
        s.httpd.shutdown()
        s.httpd.server_close()


def everything_in(folder: Path) -> list[str]:
    """Every file and folder under ``folder``, hidden ones included (temporary files are)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def assert_verified(path: Path, known_hash: str):
    alg, _, digest = known_hash.partition(":")
    assert pooch.file_hash(str(path), alg=alg) == digest, f"{path.name} does not match {known_hash}"


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.999], ids=["headers-only", "half", "all-but-the-end"])
def test_interrupted_download_leaves_nothing_and_the_retry_succeeds(server, empty_data_dir, shared_data_dir,
                                                                    monkeypatch, fraction):
    good = (shared_data_dir / "breastmnist.npz").read_bytes()
    server.serve(monkeypatch, "breastmnist", {"breastmnist.npz": good})
    server.cut["breastmnist.npz"] = fraction

    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load_breastmnist()
    assert server.log == [("breastmnist.npz", int(len(good) * fraction), len(good))]  # the fault happened
    msg = str(err.value)
    for needed in ["breastmnist", f"{server.url}/breastmnist.npz", "missing", "download failed",
                   str(empty_data_dir), "DL4HEALTH_DATA_DIR"]:
        assert needed in msg, f"{needed!r} not in:\n{msg}"
    assert everything_in(empty_data_dir) == [], "an interrupted download left files behind"
    assert data.status()["breastmnist"] == "missing"

    del server.cut["breastmnist.npz"]                  # the network is back
    x, y = data.load_breastmnist("test")
    assert x.shape == (156, 28, 28, 1) and y.shape == (156,)
    assert everything_in(empty_data_dir) == ["breastmnist.npz"]  # the final file and no temporary one
    assert_verified(empty_data_dir / "breastmnist.npz", data.REGISTRY["breastmnist"].files[0].known_hash)
    assert (empty_data_dir / "breastmnist.npz").read_bytes() == good
    assert [entry[1] for entry in server.log] == [int(len(good) * fraction), len(good)]


def test_interrupted_download_never_touches_an_older_copy(server, empty_data_dir, shared_data_dir, monkeypatch):
    """A corrupt copy is replaced only by a verified download, never by half of one."""
    good = (shared_data_dir / "breastmnist.npz").read_bytes()
    server.serve(monkeypatch, "breastmnist", {"breastmnist.npz": good})
    server.cut["breastmnist.npz"] = 0.5
    empty_data_dir.mkdir()
    old = good[:1000] + b"damaged" + good[1007:]
    (empty_data_dir / "breastmnist.npz").write_bytes(old)

    with pytest.raises(data.DatasetUnavailableError, match=r"(?s)present but corrupt.*download failed"):
        data.load_breastmnist()
    assert everything_in(empty_data_dir) == ["breastmnist.npz"]
    assert (empty_data_dir / "breastmnist.npz").read_bytes() == old
    assert data.status()["breastmnist"] == "corrupt"

    del server.cut["breastmnist.npz"]
    data.load_breastmnist()
    assert everything_in(empty_data_dir) == ["breastmnist.npz"]
    assert_verified(empty_data_dir / "breastmnist.npz", data.REGISTRY["breastmnist"].files[0].known_hash)


def test_interrupted_file_of_a_multi_file_dataset(server, empty_data_dir, shared_data_dir, monkeypatch):
    """MIT-BIH record 100 is three files: the ones verified before the fault are kept (they are
    complete), the interrupted one leaves nothing, and the retry fetches only what is missing."""
    files = {name: (shared_data_dir / "mitdb" / name).read_bytes() for name in ("100.dat", "100.hea", "100.atr")}
    server.serve(monkeypatch, "mitbih_100", files)
    server.cut["100.hea"] = 0.5

    with pytest.raises(data.DatasetUnavailableError, match=r"(?s)'mitdb/100\.hea'.*download failed"):
        data.fetch("mitbih_100")
    assert everything_in(empty_data_dir) == ["mitdb", "mitdb/100.dat"]
    assert_verified(empty_data_dir / "mitdb" / "100.dat", data.REGISTRY["mitbih_100"].files[0].known_hash)

    del server.cut["100.hea"]
    paths = data.fetch("mitbih_100")
    assert everything_in(empty_data_dir) == ["mitdb", "mitdb/100.atr", "mitdb/100.dat", "mitdb/100.hea"]
    for f in data.REGISTRY["mitbih_100"].files:
        assert_verified(paths[f.path], f.known_hash)
    assert [name for name, *_ in server.log] == ["100.dat", "100.hea", "100.hea", "100.atr"]


def test_interrupted_zip_download_leaves_no_scratch_folder(server, empty_data_dir, shared_data_dir, monkeypatch):
    """ECG5000 comes inside a zip: a cut archive leaves neither the zip, nor its scratch folder,
    nor a member file."""
    member = (shared_data_dir / "ECG5000_TRAIN.txt").read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("ECG5000_TRAIN.txt", member)
        z.writestr("ECG5000_TEST.txt", b"1 0.0\n")
    server.serve(monkeypatch, "ecg5000", {"ECG5000.zip": buf.getvalue()})
    server.cut["ECG5000.zip"] = 0.5

    with pytest.raises(data.DatasetUnavailableError, match=r"(?s)ecg5000.*download failed"):
        data.load_ecg5000()
    assert everything_in(empty_data_dir) == []

    del server.cut["ECG5000.zip"]
    x, y = data.load_ecg5000()
    assert x.shape == (500, 140, 1) and y.shape == (500,)
    assert everything_in(empty_data_dir) == ["ECG5000_TRAIN.txt"]
    assert_verified(empty_data_dir / "ECG5000_TRAIN.txt", data.REGISTRY["ecg5000"].files[0].known_hash)
