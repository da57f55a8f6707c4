"""The command line, run in-process through ``perceptron.cli.main`` (and, for
what only a real process shows, through ``python -m perceptron``).

Each test is one promise of the command line to a new user: what it prints,
what it remembers, and how it fails (one line naming the flag or the file,
exit status 2, nothing lost).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import perceptron
from perceptron import cli
from perceptron.cli import main
from perceptron.compare import compare, format_comparison, make_estimator
from perceptron.datasets import _sources, load_digits, write_idx

FASHION = list(_sources.FASHION_MNIST_CLASSES)
ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``perceptron *argv``."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, *needles):
    """Exit 2, one error line (then perhaps indented hints), no traceback."""
    assert code == 2, err
    lines = err.rstrip("\n").splitlines()
    assert lines and lines[0].startswith("perceptron ") and ": error: " in lines[0], err
    assert all(line.startswith("  ") for line in lines[1:]), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A perceptron trained on the digits by ``perceptron train --plots``."""
    out = tmp_path_factory.mktemp("run")
    assert main(["--quiet", "train", "--model", "perceptron", "--out", str(out),
                 "--plots"]) == 0
    return out


@pytest.fixture(scope="module")
def fashion_home(tmp_path_factory):
    """A tiny Fashion-MNIST-format data home that a model can learn: the
    images of class k have a bright bar on rows 2k+2 and 2k+3."""
    home = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 200), ("t10k", 50)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for image, k in zip(images, labels):
            image[2 * k + 2:2 * k + 4, 4:24] = 255
        write_idx(home / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(home / f"{prefix}-labels-idx1-ubyte.gz", labels.astype(np.uint8))
    return home


@pytest.fixture(scope="module")
def fashion_model(fashion_home, tmp_path_factory):
    out = tmp_path_factory.mktemp("fashion-run")
    assert main(["-q", "train", "--model", "perceptron", "--dataset", "fashion-mnist",
                 "--data-home", str(fashion_home), "--no-download", "--epochs", "30",
                 "--learning-rate", "0.05", "--out", str(out)]) == 0
    return out / "model.npz"


# ------------------------------------------------------------- help, version
def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"perceptron {perceptron.__version__}"


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--model {perceptron,mlp,cnn}" in text and "(default: mlp)" in text
    for flag in ("--hidden", "--conv", "--dropout", "--solver", "--learning-rate",
                 "--batch-size", "--alpha", "--epochs", "--out", "--plots", "--quiet",
                 "--verbose"):
        assert flag in text, flag
    for command in ("evaluate", "predict", "compare"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--quiet" in capsys.readouterr().out, command


def test_parser_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "transformer"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice" in err
    assert "perceptron train --help" in err


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "perceptron", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "train" in result.stdout


# ---------------------------------------------------------------- training
def test_train_writes_model_metrics_and_plots(trained):
    names = sorted(os.listdir(trained))
    assert names == sorted([
        "model.npz", "metrics.json", "confusion_matrix.png",
        "confusion_matrix_normalized.png", "learning_curves.png", "misclassified.png",
        "predictions.png", "weights.png"])
    for name in names:
        if name.endswith(".png"):
            with open(trained / name, "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((trained / "metrics.json").read_text())
    # the default run converges: it stops by itself, well before its 200 epochs
    assert metrics["dataset"] == "digits" and metrics["converged"]
    assert 10 < metrics["epochs"] < 200 == make_estimator("perceptron").max_iter
    assert len(metrics["loss_curve"]) == metrics["epochs"]
    assert metrics["test"]["accuracy"] > 0.9


def test_train_reports_in_plain_words(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--model", "perceptron", "--epochs", "1",
                         "--out", tmp_path)
    assert code == 0
    assert "Trained for 1 epoch in " in out and "s per epoch" in out
    assert f"Wrote in {tmp_path}:" in out and "perceptron evaluate" in out
    assert err.startswith("Training PerceptronClassifier on digits: 1437 images of 8x8")
    assert "note: the loss was still improving after --epochs 1" in err
    assert "ConvergenceWarning" not in err


def test_quiet_and_verbose_go_before_or_after_the_command(tmp_path, capsys):
    for argv in (["-q", "train"], ["train", "-q"]):
        code, out, err = run(capsys, *argv, "--model", "perceptron", "--epochs", "2",
                             "--out", tmp_path)
        assert code == 0 and err == "" and "Next:" not in out
    code, out, err = run(capsys, "train", "-v", "--model", "perceptron", "--epochs", "2",
                         "--out", tmp_path)
    # one line per epoch with -v, on stderr: stdout holds only the results
    assert err.count("Iteration ") == 2 and "Iteration" not in out


def test_progress_bar_only_on_a_terminal(tmp_path, capsys, monkeypatch):
    argv = ("train", "--model", "perceptron", "--epochs", "3", "--out", tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 0 and "\r" not in err and "Iteration" not in err  # a log: no bar
    monkeypatch.setattr("perceptron._training._interactive", lambda: True)
    code, _, err = run(capsys, *argv)
    # one bar over the run, the epoch in its label, the loss in its postfix
    assert code == 0 and "epoch 3/3" in err and "loss=" in err and "acc=" in err
    assert "Iteration" not in err and err.count("\n") <= 4


def test_train_passes_hyper_parameters(tmp_path, capsys):
    code, _, _ = run(capsys, "-q", "train", "--model", "mlp", "--hidden", "16,8",
                     "--learning-rate", "0.01", "--batch-size", "64", "--dropout", "0.1",
                     "--solver", "sgd", "--alpha", "0.001", "--epochs", "1",
                     "--out", tmp_path / "mlp")
    assert code == 0
    mlp = perceptron.load(tmp_path / "mlp" / "model.npz")
    assert (mlp.hidden_layer_sizes, mlp.learning_rate_init, mlp.batch_size, mlp.dropout,
            mlp.solver, mlp.alpha) == ((16, 8), 0.01, 64, 0.1, "sgd", 0.001)
    code, _, _ = run(capsys, "-q", "train", "--model", "cnn", "--conv", "4x3,8",
                     "--hidden", "12", "--epochs", "1", "--out", tmp_path / "cnn")
    assert code == 0
    cnn = perceptron.load(tmp_path / "cnn" / "model.npz")
    assert cnn.conv_layers == ((4, 3), (8, 3)) and cnn.dense_layers == (12,)


@pytest.mark.parametrize("argv,flag", [
    (["--epochs", "0"], "--epochs"),
    (["--learning-rate", "-1"], "--learning-rate"),
    (["--batch-size", "0"], "--batch-size"),
    (["--dropout", "1.5"], "--dropout"),
    (["--hidden", "0"], "--hidden"),
    (["--solver", "adam", "--threads", "0"], "--threads"),
])
def test_bad_values_are_named_by_their_flag_before_any_work(argv, flag, capsys,
                                                             monkeypatch):
    monkeypatch.setattr(cli, "_load_data", pytest.fail)  # checked before the data
    code, _, err = run(capsys, "train", *argv)
    assert_user_error(code, err, flag)
    assert err.count("\n") == 1
    python_name = r"(?<![-\w])(max_iter|learning_rate_init|batch_size|hidden_layer_sizes|" \
                  r"n_threads|dropout)\b"
    assert re.search(python_name, err) is None, err


def test_flags_that_do_not_apply_are_refused(capsys):
    code, _, err = run(capsys, "train", "--model", "perceptron", "--hidden", "10")
    assert_user_error(code, err, "--hidden does not apply to --model perceptron",
                      "--model mlp or cnn")
    code, _, err = run(capsys, "train", "--model", "mlp", "--conv", "8x3")
    assert_user_error(code, err, "--conv does not apply to --model mlp")


def test_library_messages_name_flags():
    # e.g. the divergence message of the training loop
    assert cli._flag_names("diverged; try a smaller learning_rate_init") == \
        "diverged; try a smaller --learning-rate"
    assert cli._flag_names("max_iter_x and n_iter_no_change") == \
        "max_iter_x and n_iter_no_change"


# ------------------------------------------------------------- output paths
def test_output_folder_is_checked_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_load_data", pytest.fail)
    monkeypatch.setattr(perceptron.compare, "compare", pytest.fail, raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in ("train", "compare"):
        code, _, err = run(capsys, command, "--out", blocker / "out")
        assert_user_error(code, err, f"--out folder {blocker / 'out'}")
        assert ".part" not in err
        code, _, err = run(capsys, command, "--out", blocker)
        assert_user_error(code, err, f"--out {blocker} is a file, not a folder")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes in read-only folders")
def test_unwritable_output_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_load_data", pytest.fail)
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, _, err = run(capsys, "train", "--out", folder)
    finally:
        folder.chmod(0o700)
    assert_user_error(code, err, f"cannot write in the --out folder {folder}")


def test_permission_denied_names_the_out_folder(tmp_path, capsys, monkeypatch):
    import tempfile

    def denied(dir=None, **kwargs):  # what a read-only folder does, even for root
        raise PermissionError(13, "Permission denied", os.path.join(dir, "tmpxyz"))

    monkeypatch.setattr(cli, "_load_data", pytest.fail)
    monkeypatch.setattr(tempfile, "TemporaryFile", denied)
    code, _, err = run(capsys, "train", "--out", tmp_path)
    assert_user_error(code, err, f"cannot write in the --out folder {tmp_path}: "
                                 "Permission denied")
    assert "tmpxyz" not in err


def test_files_are_named_as_the_user_wrote_them(tmp_path):
    with pytest.raises(cli.UserError, match="the folder .*missing does not exist"):
        cli.write_json(str(tmp_path / "missing" / "x.json"), {}, "--out")
    cli.write_json(str(tmp_path / "x.json"), {"a": 1}, "--out")
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["x.json"]  # no temporary file left


# ------------------------------------------------------------ data sets
def test_mnist_offline_error_is_laid_out_with_flags(tmp_path, capsys, monkeypatch):
    debian = tmp_path / "debian-fashion"
    debian.mkdir()
    monkeypatch.setattr(_sources, "DEBIAN_FASHION_MNIST_DIR", str(debian))
    code, _, err = run(capsys, "train", "--dataset", "mnist", "--data-home", tmp_path,
                       "--no-download")
    assert_user_error(code, err, "--no-download", "--data-home", str(tmp_path / "mnist"),
                      "--dataset fashion-mnist works offline", *_sources.ALL_FILENAMES)
    assert "data_home=" not in err and "download=" not in err
    # laid out for a terminal
    assert len(err.splitlines()) > 5
    assert all(len(line) < 80 for line in err.splitlines() if str(tmp_path) not in line)


def test_download_failure_names_the_flag(capsys, monkeypatch):
    from perceptron.datasets import DownloadError

    details = dict(title="MNIST", failures=["http://x/a.gz: cannot connect"],
                   mirrors=("http://x/",), folder="/data/mnist",
                   manual_files=tuple(_sources.ALL_FILENAMES))

    def offline(*args, **kwargs):
        raise DownloadError("offline", details=details)

    monkeypatch.setattr(cli, "_load_data", offline)
    code, _, err = run(capsys, "train", "--dataset", "mnist")
    assert_user_error(code, err, "every mirror failed", "give --data-home a folder",
                      "/data/mnist")
    assert "data_home=" not in err


# --------------------------------------------------- the model remembers
def test_model_remembers_its_data_set_and_class_names(fashion_model, fashion_home,
                                                       tmp_path, capsys):
    model = perceptron.load(fashion_model)
    assert model.dataset_name_ == "fashion-mnist" and list(model.class_names_) == FASHION
    # evaluate: no --dataset needed, classes by name
    code, out, _ = run(capsys, "evaluate", fashion_model, "--data-home", fashion_home,
                       "--no-download")
    assert code == 0 and "trained on fashion-mnist" in out
    assert "Sneaker" in out and "Ankle boot" in out
    # predict prints "Sneaker", not 7
    image = np.zeros((28, 28), dtype=np.float32)
    image[16:18, 4:24] = 1.0
    np.save(tmp_path / "sneaker.npy", image)
    code, out, _ = run(capsys, "predict", fashion_model, tmp_path / "sneaker.npy")
    assert code == 0 and out.startswith(f"{tmp_path / 'sneaker.npy'}: Sneaker (probability")
    code, out, _ = run(capsys, "predict", fashion_model, tmp_path / "sneaker.npy", "--json")
    (result,) = json.loads(out)
    assert result["label"] == 7 and result["name"] == "Sneaker"
    assert sum(result["probabilities"].values()) == pytest.approx(1.0)


def test_a_model_without_its_data_set_name(trained, tmp_path, capsys):
    from perceptron import PerceptronClassifier

    # a 64-pixel model is a digits model; any other needs --dataset
    X = np.random.default_rng(0).random((20, 784))
    clf = PerceptronClassifier(max_iter=1).partial_fit(X, np.arange(20) % 10,
                                                       classes=np.arange(10))
    path = clf.save(tmp_path / "api-model.npz")
    code, _, err = run(capsys, "evaluate", path)
    assert_user_error(code, err, "does not say which data set", "--dataset")
    code, out, _ = run(capsys, "evaluate", trained / "model.npz", "--json")
    assert code == 0 and json.loads(out)["accuracy"] > 0.9


def test_digits_model_says_it_shrinks_photos(trained, tmp_path, capsys):
    from PIL import Image, ImageDraw

    img = Image.new("L", (90, 120), 255)
    ImageDraw.Draw(img).line([(45, 10), (45, 110)], fill=0, width=12)
    img.save(tmp_path / "one.png")
    code, out, err = run(capsys, "predict", trained / "model.npz", tmp_path / "one.png")
    assert code == 0 and out.startswith(f"{tmp_path / 'one.png'}: ")
    assert "shrunk to 8x8" in err and "perceptron train --dataset mnist" in err
    X, y = load_digits(subset="test", return_X_y=True)
    np.save(tmp_path / "digit.npy", X[0].reshape(8, 8))
    code, out, err = run(capsys, "predict", trained / "model.npz", tmp_path / "digit.npy")
    assert code == 0 and out.startswith(f"{tmp_path / 'digit.npy'}: {y[0]} (probability")
    assert err == ""  # an array of the model's pixels is not shrunk


# ------------------------------------------------- files that are not right
def test_model_file_errors(trained, tmp_path, capsys):
    np.save(tmp_path / "array.npy", np.zeros(64))
    code, _, err = run(capsys, "predict", tmp_path / "array.npy", tmp_path / "array.npy")
    assert_user_error(code, err, "array.npy", "not a perceptron model file")
    code, _, err = run(capsys, "evaluate", tmp_path / "nothing.npz")
    assert_user_error(code, err, "no model file at")
    code, _, err = run(capsys, "evaluate", trained)
    assert_user_error(code, err, "is a folder", str(trained / "model.npz"))


def test_image_errors_name_the_file(trained, tmp_path, capsys, monkeypatch):
    from PIL import Image

    model = trained / "model.npz"
    (tmp_path / "text.png").write_text("not an image")
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    Image.new("L", (60, 60), 0).save(tmp_path / "big.png")
    np.save(tmp_path / "wrong.npy", np.zeros(10))
    for name in ("text.png", "blank.png", "wrong.npy", "missing.png"):
        code, _, err = run(capsys, "predict", model, tmp_path / name)
        assert_user_error(code, err, name)
        assert err.count("\n") == 1
    # Pillow's guard against decompression bombs: an error naming the file
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    code, _, err = run(capsys, "predict", model, tmp_path / "big.png")
    assert_user_error(code, err, "big.png", "decompression bomb")


# ----------------------------------------------------------------- compare
def test_compare_table_and_json(tmp_path, capsys):
    rows = compare(["perceptron", "mlp"])
    assert [r["model"] for r in rows] == ["perceptron", "mlp"]
    assert all(r["accuracy"] > 0.9 and r["fit_time"] > 0 and r["converged"] for r in rows)
    table = format_comparison(rows)
    assert table.count("\n") == 3 and "| perceptron |" in table
    code, out, err = run(capsys, "compare", "--models", "perceptron", "--epochs", "5",
                         "--out", tmp_path)
    assert code == 0 and "| perceptron |" in out and "| 5* |" in out
    assert "still improving" in out
    saved = json.loads((tmp_path / "comparison.json").read_text())
    code, out, _ = run(capsys, "-q", "compare", "--models", "perceptron", "--epochs", "5",
                       "--json")
    assert code == 0 and json.loads(out)[0]["model"] == saved[0]["model"] == "perceptron"


@pytest.mark.parametrize("models", ["", ",", "svm", "mlp,svm"])
def test_compare_needs_known_models(models, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--models", models])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --models" in err and "perceptron, mlp, cnn" in err


def test_make_estimator_rejects_unknown_models():
    with pytest.raises(ValueError, match="unknown model"):
        make_estimator("svm")
    assert make_estimator("cnn", "digits").padding == "same"


def test_predict_show_saves_what_the_model_sees(trained, tmp_path, capsys):
    from PIL import Image, ImageDraw

    img = Image.new("L", (90, 120), 255)
    ImageDraw.Draw(img).line([(45, 10), (45, 110)], fill=0, width=12)
    img.save(tmp_path / "one.png")
    out = tmp_path / "seen.png"
    model = str(trained / "model.npz")
    assert main(["predict", model, str(tmp_path / "one.png"), "--show", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with Image.open(out) as seen:
        assert seen.format == "PNG" and seen.width > 100
    # a missing folder is named before any work, in one line
    assert main(["predict", model, str(tmp_path / "one.png"),
                 "--show", str(tmp_path / "no" / "seen.png")]) == 2
    err = capsys.readouterr().err
    assert "--show: no folder" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------ a real pipe
def test_broken_pipe_is_quiet(trained):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "perceptron", "evaluate", str(trained / "model.npz"), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before anything is written (| head)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 1
    assert err == ""


def test_default_output_folder_is_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "perceptron-output/" in ignored
