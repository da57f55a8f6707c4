"""The command line, run in-process through ``perceptron.cli.main``."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from perceptron.cli import main
from perceptron.compare import compare, format_comparison, make_estimator


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(["--quiet", "train", "--model", "perceptron", "--epochs", "200",
                 "--out", str(out), "--plots"])
    assert code == 0
    return out


def test_train_writes_model_metrics_and_plots(trained, capsys):
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
    assert metrics["dataset"] == "digits" and metrics["epochs"] == 200
    assert len(metrics["loss_curve"]) == 200
    assert metrics["test"]["accuracy"] > 0.9


def test_evaluate_prints_the_report(trained, capsys):
    assert main(["evaluate", str(trained / "model.npz"), "--dataset", "digits"]) == 0
    out = capsys.readouterr().out
    assert "Accuracy:" in out and "precision" in out
    assert main(["evaluate", str(trained / "model.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] > 0.9


def test_predict_images_and_arrays(trained, tmp_path, capsys):
    from perceptron.datasets import load_digits

    X, y = load_digits(subset="test", return_X_y=True)
    np.save(tmp_path / "digit.npy", X[0].reshape(8, 8))
    assert main(["predict", str(trained / "model.npz"), str(tmp_path / "digit.npy")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path / 'digit.npy'}: {y[0]} (probability")
    # a drawn PNG goes through the MNIST-style preprocessing, scaled to 8x8
    from PIL import Image, ImageDraw

    img = Image.new("L", (90, 120), 255)
    ImageDraw.Draw(img).line([(45, 10), (45, 110)], fill=0, width=12)
    img.save(tmp_path / "one.png")
    assert main(["predict", str(trained / "model.npz"), str(tmp_path / "one.png")]) == 0
    assert "one.png: " in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["evaluate", "no/such/model.npz"], "no model file"),
    (["train", "--dataset", "mnist", "--data-home", "{tmp}", "--no-download"],
     "train-images-idx3-ubyte.gz"),
    (["train", "--epochs", "0"], "max_iter"),
])
def test_user_errors_are_one_line_without_traceback(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["--quiet"] + argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_choice_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "transformer"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "perceptron", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "train" in result.stdout


def test_compare_table(capsys):
    rows = compare(["perceptron", "mlp"])
    assert [r["model"] for r in rows] == ["perceptron", "mlp"]
    assert all(r["accuracy"] > 0.9 and r["fit_time"] > 0 for r in rows)
    table = format_comparison(rows)
    assert table.count("\n") == 3 and "| perceptron |" in table
    assert main(["--quiet", "compare", "--models", "perceptron", "--epochs", "5"]) == 0
    assert "| perceptron |" in capsys.readouterr().out


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
