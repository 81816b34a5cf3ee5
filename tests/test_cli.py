"""Tests for cnnlib.cli (python -m cnnlib): a failure is one line and a non-zero exit, never
a traceback; Ctrl-C saves the last finished epoch and stops any worker (issue 11)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnlib import cli
from cnnlib.architectures import one_conv_net
from cnnlib.model import Sequential

from bad_input_support import ROOT, leftovers, time_limit  # noqa: F401 (time_limit: autouse)


def run_main(argv, capsys):
    """cli.main in-process: (exit code, stderr text). sys.exit("msg") means code 1 + msg."""
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
        raise SystemExit(0)
    code = info.value.code
    err = capsys.readouterr().err
    if isinstance(code, str):
        err, code = err + code + "\n", 1
    return code, err


def one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


QUICK = ["--epochs", "1", "--train-size", "64", "--test-size", "32", "--no-progress"]


CLI = [
    pytest.param(["--seed", "-1"], 2, ["--seed", ">= 0"], id="seed-1"),
    pytest.param(["--augment", "-1"], 2, ["--augment", ">= 0"], id="augment-1"),
    pytest.param(["--augment", "28"] + QUICK, 1, ["--augment 28", "28x28", "e.g. 2"],
                 id="augment28"),
    pytest.param(["--augment", "100"] + QUICK, 1, ["out of sight"], id="augment100"),
    pytest.param(["--data-dir", "/tmp"], 2, ["--data-dir", "--data full"], id="data-dir"),
    pytest.param(["--save", ""], 2, ["--save", "file name"], id="save-empty"),
    pytest.param(["--save", "  "], 2, ["--save", "file name"], id="save-blank"),
    pytest.param(["--save", "{tmp}/missing/w.npz"] + QUICK, 1, ["does not exist", "mkdir"],
                 id="save-missing-folder"),
    pytest.param(["--save", "{tmp}"] + QUICK, 1, ["is a folder"], id="save-folder"),
    pytest.param(["--lr", "inf"], 2, ["--lr", "finite"], id="lr-inf"),
    pytest.param(["--lr", "nan"], 2, ["--lr", "> 0"], id="lr-nan"),
    pytest.param(["--lr", "-1"], 2, ["--lr", "> 0"], id="lr-neg"),
    pytest.param(["--lr", "0"], 2, ["--lr", "> 0"], id="lr0"),
    pytest.param(["--lr", "fast"], 2, ["expected a float"], id="lr-word"),
    pytest.param(["--lr-decay", "inf"], 2, ["--lr-decay", "finite"], id="decay-inf"),
    pytest.param(["--epochs", "0"], 2, ["--epochs", "> 0"], id="epochs0"),
    pytest.param(["--epochs", "two"], 2, ["expected a int"], id="epochs-word"),
    pytest.param(["--batch-size", "0"], 2, ["--batch-size"], id="batch0"),
    pytest.param(["--train-size", "-5"], 2, ["--train-size"], id="train-size"),
    pytest.param(["--arch", "resnet"], 2, ["invalid choice", "lenet"], id="arch"),
    pytest.param(["--optimizer", "rmsprop"], 2, ["invalid choice"], id="optimizer"),
    pytest.param(["--data", "full", "--data-dir", "{tmp}/nowhere"], 1,
                 ["could not load mnist", "not a folder"], id="data-dir-missing"),
    pytest.param(["--data", "full", "--data-dir", "{tmp}"], 1,
                 ["could not load mnist", "missing"], id="data-dir-empty"),
    pytest.param(["--lr", "10"] + QUICK, 1, ["exploding", "lr=10", "divide it by 10"],
                 id="adam-lr10"),
    pytest.param(["--optimizer", "momentum", "--lr", "5", "--epochs", "1", "--train-size", "640",
                  "--no-progress"], 1, ["exploding", "lr=5"],
                 id="momentum-lr5"),
    pytest.param(["--optimizer", "sgd", "--lr", "1e-9", "--train-size", "1600",
                  "--batch-size", "16", "--epochs", "1", "--test-size", "10",
                  "--no-progress", "--arch", "one_conv"], 1,
                 ["chance level", "learned nothing"], id="chance"),
]


@pytest.mark.parametrize("argv, code, words", CLI)
def test_cli_failure_is_one_line_and_a_nonzero_exit(argv, code, words, capsys, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    got, err = run_main(argv, capsys)
    line = one_line(err).lower()
    assert got == code, err
    for w in words:
        assert w.lower() in line, line


def test_cli_save_fails_after_training_says_where_and_why(capsys, tmp_path, monkeypatch):
    def full_disk(self, path):
        raise OSError(28, f"could not save the weights to {path}: No space left on device")
    monkeypatch.setattr(Sequential, "save", full_disk)
    code, err = run_main(QUICK + ["--save", str(tmp_path / "w.npz")], capsys)
    line = one_line(err)
    assert code == 1 and str(tmp_path / "w.npz") in line and "No space left" in line


def test_cli_saves_after_a_good_run(capsys, tmp_path):
    code, err = run_main(QUICK + ["--arch", "one_conv", "--save", str(tmp_path / "w.npz")],
                         capsys)
    assert code == 0 and err == ""
    one_conv_net().load(tmp_path / "w.npz")


def cli_process(*args, **kwargs):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("CNNLIB_TRACEBACK", None)
    return subprocess.Popen([sys.executable, "-m", "cnnlib", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.parametrize("argv", [["--seed", "-1"], ["--augment", "-1"],
                                  ["--save", "/nonexistent-folder/w.npz"]])
def test_cli_process_never_prints_a_traceback(argv):
    p = cli_process(*argv)
    out, err = p.communicate(timeout=25)
    assert p.returncode != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def interrupt_after_training_started(p, seconds):
    """Wait for the summary line (training starts right after it), then send Ctrl-C."""
    for line in p.stdout:
        if line.startswith("data:"):
            break
    time.sleep(seconds)
    p.send_signal(signal.SIGINT)
    return p.communicate(timeout=20)


def test_ctrl_c_saves_the_last_finished_epoch(tmp_path):
    target = tmp_path / "w.npz"
    p = cli_process("--arch", "one_conv", "--epochs", "100000", "--train-size", "64",
                    "--no-progress", "--save", str(target))
    out, err = interrupt_after_training_started(p, 3)
    assert p.returncode == 130 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "interrupted during epoch" in line and "(the last finished) were saved to" in line
    one_conv_net().load(target)
    assert leftovers(tmp_path) == []


def test_ctrl_c_without_save_is_one_line(tmp_path):
    p = cli_process("--arch", "one_conv", "--epochs", "100000", "--train-size", "64",
                    "--no-progress")
    out, err = interrupt_after_training_started(p, 1)
    assert p.returncode == 130 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "nothing saved (no --save)" in line


def children_of(pid):
    """The pids of the running processes whose parent is pid (Linux /proc)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


def running(pid):
    """Whether process pid exists and is not a zombie (Linux /proc)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists() or sys.platform != "linux",
                    reason="worker processes and /proc are Linux's")
def test_ctrl_c_during_a_split_training_stops_its_worker(monkeypatch):
    monkeypatch.setenv("CNNLIB_THREADS", "2")
    monkeypatch.setenv("CNNLIB_SPLIT", "processes")
    p = cli_process("--arch", "lenet", "--batch-size", "64", "--epochs", "100000",
                    "--no-progress")
    for line in p.stdout:
        if line.startswith("data:"):
            break
    deadline, workers = time.monotonic() + 20, []
    while not workers and time.monotonic() < deadline:      # a worker lives during an epoch
        workers = children_of(p.pid)
        time.sleep(0.01)
    assert workers, "no worker process was forked"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 130 and "Traceback" not in err
    assert "nothing saved (no --save)" in err
    time.sleep(0.5)
    assert [pid for pid in workers if running(pid)] == [], "worker processes left running"


def test_the_old_command_line_name_says_what_to_run():
    # train.py imports nothing from the command line (no import circle), but its old name
    # still answers with the new one
    done = subprocess.run([sys.executable, "-m", "cnnlib.train", "--epochs", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == ("python -m cnnlib.train was the command line's old name; "
                                   "run python -m cnnlib with the same options.")
