"""The fast training run of each model (``python -m gan_helpers train --fast --model M``), trained once, in
a child process as a user runs it, and checked from every side: the files a user gets, what each model
records, resuming and its refusals, and the bytes recorded by ``scripts/run_fingerprint.py``.

The tests share one module fixture, so `make test` trains each model's fast run once (tests/schedule.py
keeps the module on one worker). A test that resumes or refuses works on a copy of the run."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_helpers import cli, export, jobs
from gan_helpers.recipes import DCGANRecipe
from tests.test_commands_shown import BUDGET, _specs  # helpers, not tests

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("run_fingerprint", ROOT / "scripts" / "run_fingerprint.py")
run_fingerprint = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_fingerprint)
STORED = json.loads(run_fingerprint.STORED.read_text())
FILES = ("samples.png", "progress.gif", "losses.png", "generator.keras", "metrics.json")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    """``fast_run(model)``: the folder and printed output of that model's fast run, trained on first use."""
    done = {}

    def get(model: str) -> tuple[Path, str]:
        if model not in done:
            out = tmp_path_factory.mktemp(model) / model
            done[model] = (out, run_fingerprint.train_fast(model, out).stdout)
        return done[model]

    return get


def copy_of(run: Path, tmp_path: Path) -> Path:
    """A copy to resume or refuse on, so that the run stays as trained for the other tests."""
    return Path(shutil.copytree(run, tmp_path / run.name))


def train_again(out: Path, *extra: str) -> int:
    """The main job's fast-run command (in this process) on ``out``, with ``extra`` arguments (the last of
    a repeated option wins, so ``--model`` may name another model)."""
    return cli.main([*run_fingerprint.command("dcgan", out)[3:], *extra])


@pytest.mark.parametrize("model", run_fingerprint.MODELS)
def test_fast_run_writes_the_recorded_bytes(model, fast_run):
    here = run_fingerprint.environment()
    if here != STORED["environment"]:
        differ = sorted(k for k in here if here[k] != STORED["environment"].get(k))
        pytest.skip(f"fingerprints were recorded in another environment (differs in {', '.join(differ)})")
    now = run_fingerprint.fingerprint(fast_run(model)[0])
    changed = [k for k in now if now[k] != STORED["runs"][model][k]]
    assert not changed, (f"--model {model}: {', '.join(changed)} changed; if the change is intended, say why "
                         "in the commit and rerun scripts/run_fingerprint.py --record")


@pytest.mark.parametrize("model", run_fingerprint.MODELS)
def test_each_model_writes_the_files_a_user_gets_and_names_itself(model, fast_run):
    out, _ = fast_run(model)
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"] == model and np.isfinite(m["quality"]["generator"]["fd_mnist"])
    assert json.loads((out / "generator.json").read_text())["model"] == model


def test_main_job_records_its_run_and_quality(fast_run):
    out, printed = fast_run("dcgan")
    m = json.loads((out / "metrics.json").read_text())
    assert m["data_source"] == "bundled" and m["epochs"] == 2 and m["steps"] == 40
    assert m["wall_time_s"] > 0 and m["images_per_second"] > 0
    assert m["versions"]["keras"].startswith("3.") and ("CPU" in m["device"] or "GPU" in m["device"])
    assert set(m["final_epoch_means"]) == {"d_loss", "g_loss", "d_real", "d_fake"}
    q = m["quality"]
    assert q["n"] == 500 and q["real_vs_real_floor"]["fd_mnist"] < q["generator"]["fd_mnist"]
    assert 1 <= q["generator"]["classifier_score"] <= 10 and 0 < q["feature_net"]["test_accuracy"] <= 1
    for row in (q["generator"], q["real_vs_real_floor"]):
        assert 0 <= row["confident_share"] <= 1 and 0 <= row["min_class_share"] <= row["max_class_share"] <= 1
    assert q["real_vs_real_floor"]["confident_share"] > q["generator"]["confident_share"]
    assert q["generator"]["confident_share"] < q["held_out_confident_share"] <= 1
    assert m["train_images"] == 1280 and m["ema"] == DCGANRecipe().ema_decay


def test_main_job_self_conditions_and_a_fresh_process_loads_it(fast_run):
    out, printed = fast_run("dcgan")
    assert f"Self-conditioning on {jobs.MAIN_JOB.clusters} k-means clusters" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["clusters"] == jobs.MAIN_JOB.clusters and m["cluster_seconds"] >= 0
    record = json.loads((out / "generator.json").read_text())
    assert record["recipe"]["clusters"] == jobs.MAIN_JOB.clusters and record["inputs"] == "z"
    # a fresh process loads it through the package, which registers the cluster-code layer
    code = (f"import gan_helpers as gh; g = gh.export.load_generator({str(out / 'generator.keras')!r}); "
            "print(g.input_shape)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "(None, 64)" in proc.stdout, proc.stderr[-2000:]


def test_main_job_resumes_and_refuses_other_settings_in_one_line(fast_run, tmp_path, capsys):
    out = copy_of(fast_run("dcgan")[0], tmp_path)
    assert train_again(out, "--epochs", "3") == 0
    assert "Resuming from the checkpoint after epoch 2" in capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert m["resumed_from_epoch"] == 2 and m["epochs"] == 3
    history = json.loads((out / "checkpoint" / "history.json").read_text())
    assert len(history["g_loss"]) == 60  # the 40 earlier steps were kept

    assert train_again(out, "--epochs", "4", "--latent-dim", "32") == 2
    assert "other settings (latent_dim: checkpoint 64, now 32)" in capsys.readouterr().err
    # resuming with another k is refused in one line; --clusters does not apply to other models
    assert train_again(out, "--clusters", "0", "--epochs", "4") == 2
    assert f"clusters: checkpoint {jobs.MAIN_JOB.clusters}, now 0" in capsys.readouterr().err
    assert cli.main(["train", "--model", "cgan", "--clusters", "5", "--out", str(tmp_path / "c")]) == 2
    assert "--clusters applies to --model dcgan only" in capsys.readouterr().err
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 3   # the refusals wrote nothing


def test_cgan_writes_a_class_grid_and_its_label_agreement(fast_run, tmp_path, capsys):
    out, printed = fast_run("cgan")
    with Image.open(out / "samples.png") as img:        # 10 × 10 digits of 28 px with 2 px gaps, at 2×
        assert img.size == (2 * (10 * 30 + 2), 2 * (10 * 30 + 2))
    m = json.loads((out / "metrics.json").read_text())
    assert 0 <= m["quality"]["label_agreement"] <= 1 and len(m["quality"]["label_agreement_per_class"]) == 10
    assert "Label agreement" in printed
    g = export.load_generator(out / "generator.keras", expect={"model": "cgan"})
    z = np.random.default_rng(0).standard_normal((4, 64)).astype("float32")
    assert g([z, np.array([0, 3, 6, 9])]).shape == (4, 28, 28, 1)
    # resuming with the other model is refused, with one line and status 2
    assert train_again(copy_of(out, tmp_path), "--model", "dcgan", "--epochs", "3") == 2
    assert "model: checkpoint 'cgan', now 'dcgan'" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["wgan-gp", "sngan"])
def test_each_variant_takes_its_own_loss_and_steps_and_a_dcgan_cannot_resume_it(model, fast_run, tmp_path,
                                                                                capsys):
    out, _ = fast_run(model)
    m = json.loads((out / "metrics.json").read_text())
    rows = 64 * (5 if model == "wgan-gp" else 1)    # WGAN-GP's critic takes five batches per G step
    assert m["steps"] == 2 * (1280 // rows)
    assert m["loss"] == {"wgan-gp": "wasserstein", "sngan": "hinge"}[model]
    assert train_again(copy_of(out, tmp_path), "--epochs", "3") == 2   # --model left out: a DCGAN
    assert f"model: checkpoint '{model}', now 'dcgan'" in capsys.readouterr().err


def same_as_a_fast_run(args: list[str]) -> str | None:
    """The model whose fast run (above) this command is, once in fast mode; None for another job, and for a
    command that sets the seed, data, folder or output itself."""
    pinned = ["--seed", "42", "--source", "bundled", "--out", "OUT", "--quiet"]
    if set(args) & set(pinned):
        return None
    shown = cli.parse(["train", *args, "--fast", *pinned])
    return next((m for m in run_fingerprint.MODELS
                 if cli.parse(run_fingerprint.command(m, Path("OUT"))[3:]) == shown), None)


@pytest.mark.parametrize("job", sorted(_specs(), key=str), ids=lambda j: "-".join(map(str, j)))
def test_each_training_command_shown_trains_in_fast_mode(job, fast_run, tmp_path, monkeypatch):
    cmd, args = _specs()[job][0]
    args = [a for a in args if a != "--fast"]
    model = same_as_a_fast_run(args)
    if model:   # in fast mode it is one of the runs above, which the tests above check
        assert (fast_run(model)[0] / "metrics.json").is_file(), cmd
        return
    args += BUDGET + ([] if "--source" in args else ["--source", "bundled"])   # offline
    monkeypatch.chdir(tmp_path)   # relative --out folders land in tmp_path
    if job[4]:   # --cpu-replicas: logical devices need a fresh TensorFlow runtime
        proc = subprocess.run([sys.executable, "-m", "gan_helpers", "train", *args], capture_output=True,
                              text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, f"{cmd!r}: {proc.stderr[-2000:]}"
        return
    assert cli.main(["train", *args]) == 0, cmd
    assert list(tmp_path.rglob("metrics.json")), cmd


def test_three_of_the_commands_shown_are_fast_runs_and_a_changed_one_is_not():
    jobs_shown = {job: _specs()[job][0][1] for job in _specs()}
    delegated = {same_as_a_fast_run([a for a in args if a != "--fast"]) for args in jobs_shown.values()}
    assert {"dcgan", "cgan", "wgan-gp"} <= delegated
    assert same_as_a_fast_run(["--model", "cgan", "--lr", "1e-3"]) is None
    assert same_as_a_fast_run(["--seed", "7"]) is None and same_as_a_fast_run(["--clusters", "0"]) is None
