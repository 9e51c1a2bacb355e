"""Bad inputs, as a hostile user would give them: every one ends in one line that names the
culprit (file, key or flag), the documented exit code (2: config and usage, 1: the rest), no
traceback, and no earlier file changed (the sha256 of every file in the folder before and
after). Most cases run no generation: they reuse one finished tiny run, copied per test.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from blgnn_es.cli import cli
from blgnn_es.es.rundir import CHECKPOINT_MAGIC

CONFIG = """
[run]
name = "tiny"
seed = 1
[network]
hidden = [4]
[tasks]
train = ["xor"]
[unroll]
steps = 3
batch = 8
eval_batches = 1
[cmaes]
popsize = 4
max_generations = 2
[fitness]
metric = "ce"
[parallel]
backend = "serial"
[report]
validate_every = 0
"""


def invoke(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)


def hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (folders as a marker)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return found


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> Path:
    """One finished 2-generation run (and its config), made once."""
    base = tmp_path_factory.mktemp("finished")
    (base / "tiny.toml").write_text(CONFIG)
    result = invoke("evolve", "-c", base / "tiny.toml", "--out-dir", base / "runs")
    assert result.exit_code == 0, result.output
    return base


@pytest.fixture()
def work(finished, tmp_path, monkeypatch) -> Path:
    """A fresh copy of the finished run's folder, as the current directory."""
    shutil.copytree(finished, tmp_path / "w")
    monkeypatch.chdir(tmp_path / "w")
    return tmp_path / "w"


def _write(path: str, data: str | bytes) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data)
    return setup


def _config(extra: str, replace: tuple[str, str] | None = None) -> Callable[[Path], None]:
    text = CONFIG if replace is None else CONFIG.replace(*replace)
    return _write("bad.toml", text + extra)


def _edit(path: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        target = work / path
        target.write_bytes(change(target.read_bytes()))
    return setup


def _remove(*paths: str) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        for path in paths:
            target = work / path
            shutil.rmtree(target) if target.is_dir() else target.unlink()
    return setup


def _folder(path: str) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        target = work / path
        if target.exists():
            target.unlink()
        target.mkdir()
    return setup


def _all(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        for step in steps:
            step(work)
    return setup


def _npz(path: str, **arrays) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        np.savez(work / path, **arrays)
    return setup


def _sidecar(change: Callable[[dict], object] | bytes) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        side = work / "runs/tiny/mean_genome.json"
        if isinstance(change, bytes):
            side.write_bytes(change)
        else:
            side.write_text(json.dumps(change(json.loads(side.read_text()))))
    return setup


def _unroll(key: str, value) -> Callable[[dict], dict]:
    def change(meta: dict) -> dict:
        meta["provenance"]["unroll"][key] = value
        return meta
    return change


def _bitflip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x40]) + data[middle + 1:]


NO_PREV = _remove("runs/tiny/checkpoint.prev")
RUN = "runs/tiny"
NEW = ("evolve", "-c", "bad.toml", "--out-dir", "out")
RESUME = ("evolve", "--resume", RUN, "--max-generations", "3")
EVAL = ("evaluate", "runs/tiny/mean_genome.npy", "--task", "xor", "--seeds", "1",
        "--out", "ev")
GENOME = "runs/tiny/mean_genome.npy"
RANDOM_BYTES = np.random.default_rng(20261202)  # garbage files, the same every run

# id: (setup, command, exit code, pieces the message must hold)
CASES = {
    # ---- config files ----
    "config-not-utf8": (_write("bad.toml", b"[run]\nname = \"\xff\xfe\"\n"), NEW, 2,
                        ["bad.toml", "not UTF-8"]),
    "config-not-toml": (_write("bad.toml", "[run\nname="), NEW, 2, ["bad.toml", "TOML"]),
    "config-missing": (None, NEW, 2, ["bad.toml", "cannot read"]),
    "config-is-folder": (_folder("bad.toml"), NEW, 2, ["--config", "directory"]),
    "train-empty": (_config("", ('train = ["xor"]', "train = []")), NEW, 2, ["tasks.train"]),
    "train-not-specs": (_config("", ('train = ["xor"]', "train = [1]")), NEW, 2,
                        ["tasks.train"]),
    "train-unknown-task": (_config("", ('train = ["xor"]', 'train = ["xr"]')), NEW, 2,
                           ["tasks.train", "xr"]),
    "popsize-huge": (_config("", ("popsize = 4", "popsize = 100000000")), NEW, 2,
                     ["cmaes.popsize", "10000"]),
    "popsize-huge-set": (_config(""), (*NEW, "--set", "cmaes.popsize=100000000"), 2,
                         ["--set cmaes.popsize"]),
    "replicas-huge": (_config("replicas = 1000000\n", ("[cmaes]", "[cmaes]")), NEW, 2, []),
    "steps-huge": (_config("", ("steps = 3", "steps = 1000000000")), NEW, 2,
                   ["unroll.steps"]),
    "batch-huge": (_config("", ("batch = 8", "batch = 100000000")), NEW, 2, ["unroll.batch"]),
    "hidden-huge": (_config("", ("hidden = [4]", "hidden = [10000000]")), NEW, 2,
                    ["network.hidden"]),
    "hidden-zero": (_config("", ("hidden = [4]", "hidden = [0]")), NEW, 2, ["network.hidden"]),
    "unknown-key": (_config("", ("steps = 3", "stepz = 3")), NEW, 2, ["unroll.stepz"]),
    "genome-initial-missing": (_config('[genome]\ninitial = "nope.npy"\n'), NEW, 2,
                               ["genome.initial", "no such file"]),
    "genome-initial-empty": (_all(_write("empty.npy", b""),
                                  _config('[genome]\ninitial = "empty.npy"\n')), NEW, 1,
                             ["empty.npy", "not a .npy"]),
    "no-config": (None, ("evolve", "--out-dir", "out"), 2, ["--config"]),
    "config-and-resume": (_config(""), ("evolve", "-c", "bad.toml", "--resume", RUN), 2,
                          ["--config"]),
    "new-run-exists": (None, ("evolve", "-c", "tiny.toml", "--out-dir", "runs"), 2,
                       ["runs/tiny", "--force"]),
    # ---- data files ----
    "data-missing": (_config("", ('train = ["xor"]', 'train = ["file:d.npz"]')), NEW, 1,
                     ["d.npz", "no such file"]),
    "data-empty-npz": (_all(_write("d.npz", b""),
                            _config("", ('train = ["xor"]', 'train = ["file:d.npz"]'))), NEW, 1,
                       ["d.npz", "not a readable .npz"]),
    "data-not-npz": (_all(_write("d.npz", b"PK\x03\x04garbage"),
                          _config("", ('train = ["xor"]', 'train = ["file:d.npz"]'))), NEW, 1,
                     ["d.npz"]),
    "data-npz-no-y": (_all(_npz("d.npz", X=np.zeros((4, 2))),
                           _config("", ('train = ["xor"]', 'train = ["file:d.npz"]'))), NEW, 1,
                      ["d.npz", "'y'"]),
    "data-empty-csv": (_all(_write("d.csv", ""),
                            _config("", ('train = ["xor"]', 'train = ["file:d.csv"]'))), NEW, 1,
                       ["d.csv", "no rows"]),
    "data-csv-not-utf8": (_all(_write("d.csv", b"1,2,\xff\n"),
                               _config("", ('train = ["xor"]', 'train = ["file:d.csv"]'))),
                          NEW, 1, ["d.csv"]),
    "data-folder": (_all(_folder("d.npz"),
                         _config("", ('train = ["xor"]', 'train = ["file:d.npz"]'))), NEW, 1,
                    ["d.npz", "folder"]),
    "data-bad-sha": (_all(_npz("d.npz", X=np.zeros((4, 2)), y=np.array([0, 1, 0, 1])),
                          _config("", ('train = ["xor"]',
                                       'train = ["file:d.npz,sha256=' + "0" * 64 + '"]'))),
                     NEW, 1, ["d.npz", "sha256"]),
    # ---- run directories: checkpoint ----
    "checkpoint-missing": (_remove("runs/tiny/checkpoint"), RESUME, 1,
                           ["checkpoint", "missing", "checkpoint.prev"]),
    "checkpoint-truncated": (_all(NO_PREV, _edit("runs/tiny/checkpoint", lambda b: b[:200])),
                             RESUME, 1, ["checkpoint", "damaged"]),
    "checkpoint-bitflip": (_all(NO_PREV, _edit("runs/tiny/checkpoint", _bitflip)), RESUME, 1,
                           ["checkpoint", "damaged"]),
    "checkpoint-random": (_all(NO_PREV, _write("runs/tiny/checkpoint", RANDOM_BYTES.bytes(4096))),
                          RESUME, 1, ["checkpoint", "damaged"]),
    "checkpoint-empty": (_all(NO_PREV, _write("runs/tiny/checkpoint", b"")), RESUME, 1,
                         ["checkpoint", "empty"]),
    "checkpoint-folder": (_all(NO_PREV, _folder("runs/tiny/checkpoint")), RESUME, 1,
                          ["checkpoint", "folder"]),
    "checkpoint-bad-header": (_all(NO_PREV, _write("runs/tiny/checkpoint",
                                                   CHECKPOINT_MAGIC + b"abc\n\x80\x05N.")),
                              RESUME, 1, ["checkpoint", "sha256"]),
    "checkpoint-both-damaged": (_all(_write("runs/tiny/checkpoint", b"x"),
                                     _write("runs/tiny/checkpoint.prev", b"y")), RESUME, 1,
                                ["checkpoint", "checkpoint.prev"]),
    # ---- run directories: config, metrics, run.json ----
    "config-edited": (_edit("runs/tiny/config.toml",
                            lambda b: b.replace(b"steps = 3", b"steps = 7")), RESUME, 1,
                      ["config.toml", "unroll.steps", "7"]),
    "run-config-not-toml": (_write("runs/tiny/config.toml", "[unroll\n"), RESUME, 2,
                            ["config.toml", "TOML"]),
    "run-config-not-utf8": (_write("runs/tiny/config.toml", b"\xff\xfe"), RESUME, 2,
                            ["config.toml", "UTF-8"]),
    "metrics-bad-line": (_edit("runs/tiny/metrics.jsonl",
                               lambda b: b"{bad\n" + b.split(b"\n", 1)[1]), RESUME, 1,
                         ["metrics.jsonl, line 1", "damaged"]),
    "metrics-cut-line": (_edit("runs/tiny/metrics.jsonl",
                               lambda b: b[:40] + b"\n" + b.split(b"\n", 1)[1]), RESUME, 1,
                         ["metrics.jsonl, line 1"]),
    "metrics-cut-file": (_edit("runs/tiny/metrics.jsonl", lambda b: b.split(b"\n", 1)[0]
                               + b"\n"), RESUME, 1, ["metrics.jsonl", "missing"]),
    "metrics-torn-tail": (_edit("runs/tiny/metrics.jsonl", lambda b: b[:-30]), RESUME, 1,
                          ["metrics.jsonl", "missing"]),
    "metrics-empty": (_write("runs/tiny/metrics.jsonl", ""), RESUME, 1,
                      ["metrics.jsonl", "missing"]),
    "metrics-not-a-record": (_edit("runs/tiny/metrics.jsonl",
                                   lambda b: b"[1, 2]\n" + b.split(b"\n", 1)[1]), RESUME, 1,
                             ["metrics.jsonl, line 1"]),
    "run-json-damaged": (_write("runs/tiny/run.json", "{not json"), RESUME, 1, ["run.json"]),
    "resume-missing-dir": (None, ("evolve", "--resume", "runs/nope"), 2, ["runs/nope"]),
    "resume-a-file": (_write("afile", "x"), ("evolve", "--resume", "afile"), 2, ["--resume"]),
    "resume-not-run-dir": (_folder("empty"), ("evolve", "--resume", "empty"), 2,
                           ["empty", "not a run directory"]),
    "resume-set-fixed-key": (None, (*RESUME, "--set", "unroll.steps=9"), 2, ["unroll.steps"]),
    # ---- genomes and sidecars ----
    "genome-empty": (_write(GENOME, b""), EVAL, 1, ["mean_genome.npy", "not a .npy"]),
    "genome-random-bytes": (_write(GENOME, RANDOM_BYTES.bytes(300)), EVAL, 1, ["mean_genome.npy"]),
    "genome-folder": (_folder(GENOME), EVAL, 2, ["GENOME_PATH", "directory"]),
    "genome-missing": (_remove(GENOME), EVAL, 1, ["mean_genome.npy", "no such"]),
    "genome-wrong-length": (lambda w: np.save(w / GENOME, np.zeros(5)), EVAL, 1,
                            ["fits no k"]),
    "genome-nan": (lambda w: np.save(w / GENOME, np.full(23, np.nan)), EVAL, 1,
                   ["mean_genome.npy", "NaN"]),
    "sidecar-list": (_sidecar(lambda meta: [1, 2]), EVAL, 1,
                     ["mean_genome.json", "JSON object"]),
    "sidecar-null": (_sidecar(lambda meta: None), EVAL, 1, ["mean_genome.json", "JSON object"]),
    "sidecar-binary": (_sidecar(b"\x89PNG\xff\x00\x01"), EVAL, 1,
                       ["mean_genome.json", "UTF-8"]),
    "sidecar-folder": (_all(_remove("runs/tiny/mean_genome.json"),
                            _folder("runs/tiny/mean_genome.json")), EVAL, 1,
                       ["mean_genome.json", "folder"]),
    "sidecar-not-json": (_sidecar(b"{oops"), EVAL, 1, ["mean_genome.json", "JSON"]),
    "sidecar-batch-x": (_sidecar(_unroll("batch", "x")), EVAL, 1,
                        ["mean_genome.json", "unroll.batch"]),
    "sidecar-steps-negative": (_sidecar(_unroll("steps", -5)), EVAL, 1,
                               ["mean_genome.json", "unroll.steps"]),
    "sidecar-wrong-states": (_sidecar(lambda meta: {**meta, "states": 3}), EVAL, 1,
                             ["mean_genome.json", "k=3"]),
    # ---- flags ----
    "eval-batches-zero": (None, (*EVAL, "--eval-batches", "0"), 2, ["--eval-batches"]),
    "eval-batches-negative": (None, (*EVAL, "--eval-batches", "-1"), 2, ["--eval-batches"]),
    "at-zero": (None, (*EVAL, "--at", "0,5"), 2, ["--at"]),
    "at-not-number": (None, (*EVAL, "--at", "1,x"), 2, ["--at"]),
    "layers-zero": (None, (*EVAL, "--layers", "0"), 2, ["--layers"]),
    "steps-flag-zero": (None, (*EVAL, "--steps", "0"), 2, ["--steps"]),
    "evaluate-out-exists": (_write("ev/curve.csv", "old"), EVAL, 2, ["ev", "--force"]),
    "evaluate-out-is-file": (_write("ev", "a file"), EVAL, 2, ["ev"]),
    "report-exists": (_write("runs/tiny/summary.md", "old"), ("report", RUN), 2,
                      ["summary.md", "--force"]),
    "report-out-is-file": (_write("rep", "x"), ("report", RUN, "--out", "rep"), 2, ["rep"]),
    "report-not-run-dir": (_folder("empty"), ("report", "empty"), 2, ["empty"]),
    "genome-other-suffix": (_write("keep.npy", "precious"),
                            ("genome", "random", "-o", "keep.foo"), 1, ["keep.npy", "--force"]),
    "collect-output-exists": (_write("t.csv", "old"), ("collect", RUN, "-o", "t.csv"), 2,
                              ["t.csv", "--force"]),
    "tasks-show-exists": (_write("p.png", "old"), ("tasks", "show", "xor", "-o", "p.png"), 2,
                          ["p.png", "--force"]),
    "tasks-show-bad-format": (None, ("tasks", "show", "xor", "-o", "p.foo"), 2, ["p.foo"]),
    "tasks-show-bad-spec": (None, ("tasks", "show", "xr"), 2, ["xr"]),
    "seed-from-env-unset": (None, ("evolve", "-c", "tiny.toml", "--seed-from-env",
                                   "NO_SUCH_VAR_X"), 2, ["NO_SUCH_VAR_X"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(work, case):
    setup, command, code, pieces = CASES[case]
    if setup is not None:
        setup(work)
    before = hashes(work)
    result = invoke(*command)
    output = result.output
    assert result.exit_code == code, output
    assert "Traceback" not in output and "Aborted" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    if output.startswith("Usage:"):  # click's own usage errors: usage, hint, error
        assert len(lines) == 3 and lines[2].startswith("Error: "), output
    else:  # everything else: one line, no usage banner
        assert len(lines) == 1 and lines[0].startswith("Error: "), output
    for piece in pieces:
        assert piece in output, output
    assert hashes(work) == before, output


def test_there_are_at_least_forty_bad_inputs():
    assert len(CASES) >= 40


def test_config_errors_have_no_usage_banner(work):
    (work / "bad.toml").write_text(CONFIG.replace("popsize = 4", "popsize = 1"))
    result = invoke(*NEW)
    assert result.exit_code == 2 and "Usage:" not in result.output
    assert result.output.startswith("Error: bad.toml: cmaes.popsize = 1")


# ---- I/O failures ------------------------------------------------------------------------

def _fail_with(monkeypatch, number: int, target: str = "blgnn_es.fileio.tempfile.mkstemp"):
    def fail(*args, **kwargs):
        raise OSError(number, os.strerror(number), str(args[0]) if args else None)
    monkeypatch.setattr(target, fail)


@pytest.mark.parametrize("number", [errno.EROFS, errno.ENOSPC])
@pytest.mark.parametrize("command", [
    ("genome", "random", "-o", "new/g.npy"),
    ("report", RUN, "--out", "rep"),
    ("collect", RUN, "-o", "table.csv"),
    ("evolve", "-c", "tiny.toml", "--out-dir", "fresh"),
])
def test_write_failures_are_one_line(work, monkeypatch, number, command):
    _fail_with(monkeypatch, number)
    before = hashes(work / "runs")
    result = invoke(*command)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and os.strerror(number) in result.output
    assert result.output.startswith("Error: ")
    assert hashes(work / "runs") == before
    assert not (work / "fresh" / "tiny").exists()  # a failed start leaves nothing


def test_read_only_folder_for_a_new_run(work, monkeypatch):
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if "ro" in self.parts:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    result = invoke("evolve", "-c", "tiny.toml", "--out-dir", "ro")
    assert result.exit_code == 1 and "Read-only file system" in result.output
    assert "ro" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_full_disk_mid_run_is_logged_and_the_run_resumes(work, monkeypatch):
    from blgnn_es.es import rundir

    real = rundir.RunDir.append_metrics
    calls = []

    def full_on_second(self, record):
        calls.append(record.generation)
        if len(calls) == 2:
            raise rundir.FileError(f"cannot write {self.metrics}: No space left on device")
        return real(self, record)

    monkeypatch.setattr(rundir.RunDir, "append_metrics", full_on_second)
    failed = invoke("evolve", "-c", "tiny.toml", "--out-dir", "disk", "--max-generations", "3")
    assert failed.exit_code == 1 and "No space left on device" in failed.output
    assert "Traceback" not in failed.output
    log = (work / "disk/tiny/log.txt").read_text()
    assert "error: cannot write" in log
    monkeypatch.setattr(rundir.RunDir, "append_metrics", real)
    resumed = invoke("evolve", "--resume", "disk/tiny", "--max-generations", "3")
    assert resumed.exit_code == 0, resumed.output
    straight = invoke("evolve", "-c", "tiny.toml", "--out-dir", "disk", "--name", "s",
                      "--max-generations", "3")
    assert straight.exit_code == 0

    def lines(path):
        return [{k: v for k, v in json.loads(t).items() if k not in ("seconds", "elapsed")}
                for t in (work / path / "metrics.jsonl").read_text().splitlines()]

    assert lines("disk/tiny") == lines("disk/s")


# ---- collect goes on past a bad run --------------------------------------------------------

def test_collect_reports_a_bad_run_as_a_row(work):
    shutil.copytree(work / RUN, work / "runs/broken")
    (work / "runs/broken/config.toml").write_bytes(b"\xff[[[")
    (work / "runs/empty").mkdir()
    result = invoke("collect", "runs", "runs/empty")
    assert result.exit_code == 0, result.output
    table = re.sub(r" +", " ", result.output)  # tabulate pads the cells
    assert "| tiny |" in table
    assert "| broken |" in table and "unreadable:" in table
    assert "| empty |" in table and "not a run directory" in table
    assert "Traceback" not in result.output
