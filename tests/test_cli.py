import json
import subprocess
import sys

import pytest

from gan_helpers import cli


def gh_recipe():
    from gan_helpers.recipes import DCGANRecipe

    return DCGANRecipe()


def run(*args):
    return cli.main(["train", *args])


@pytest.mark.parametrize("args,message", [
    (["--dataset", "cifar10"], "invalid choice: 'cifar10'"),
    (["--epochs", "0"], "must be a positive whole number, got 0"),
    (["--epochs", "two"], "'two' is not a whole number"),
    (["--seed", "-1"], "between 0 and 2\\*\\*32 - 1"),
    (["--d-dropout", "1.5"], "must be in \\[0, 1\\), got 1.5"),
    (["--ema", "1"], "must be in \\[0, 1\\), got 1.0"),
    (["--lr", "0"], "must be a learning rate in \\(0, 1\\], got 0.0"),
    (["--lr", "fast"], "'fast' is not a number"),
    (["--d-width", "0"], "must be a positive whole number, got 0"),
    (["--steps", "0"], "must be a positive whole number, got 0"),
])
def test_bad_arguments_exit_2_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        run(*args)
    assert exc.value.code == 2
    assert __import__("re").search(message, capsys.readouterr().err)


@pytest.mark.parametrize("args,clusters,steps", [
    ([], 50, 2500),                               # the main job: self-conditioned, its own step budget
    (["--clusters", "0"], 0, 3000),               # the plain DCGAN of notebook 04, section 8
    (["--clusters", "30", "--steps", "400"], 30, 400),
    (["--model", "cgan"], 0, 3000),
])
def test_a_command_takes_the_main_jobs_steps_only_when_it_self_conditions(args, clusters, steps):
    from gan_helpers.jobs import MAIN_JOB
    from gan_helpers.recipes import DEFAULT_STEPS

    assert (MAIN_JOB.steps, DEFAULT_STEPS) == (2500, 3000)   # the figures this table was written for
    spec = cli.parse(["train", *args])
    recipe = spec.recipe()
    assert (recipe.clusters, recipe.steps) == (clusters, steps)


def test_output_path_that_is_a_file_is_refused_without_traceback(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    proc = subprocess.run([sys.executable, "-m", "gan_helpers", "train", "--out", str(target)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "is a file; give a folder" in proc.stderr and "Traceback" not in proc.stderr
    assert target.read_text() == "keep me"


def test_ctrl_c_keeps_the_last_checkpoint_and_the_same_command_resumes(tmp_path):
    import signal
    import time

    out = tmp_path / "run"

    def cmd(epochs):
        return [sys.executable, "-m", "gan_helpers", "train", "--fast", "--source", "bundled", "--width", "4",
                "--latent-dim", "8", "--epochs", str(epochs), "--out", str(out), "--quiet"]

    proc = subprocess.Popen(cmd(500), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    meta = out / "checkpoint" / "meta.json"
    deadline = time.time() + 120
    while not meta.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert meta.exists(), "no checkpoint was written"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "run the same command again to resume" in err
    assert "Traceback" not in err
    saved = json.loads(meta.read_text())["epoch"]
    assert 1 <= saved < 500

    resumed = subprocess.run(cmd(saved + 1), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Resuming from the checkpoint after epoch {saved}" in resumed.stdout
    assert json.loads((out / "metrics.json").read_text())["resumed_from_epoch"] == saved



def _without_log_level():
    import os

    return {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def test_tensorflow_startup_lines_are_hidden_and_other_errors_kept():
    code = ("from gan_helpers._quiet import hide_tensorflow_startup_lines as h\n"
            "assert h()\n"
            "import os, sys\n"
            "os.write(2, b'I0000 00:00:1 123 port.cc:153] oneDNN custom operations are on.\\n')\n"
            "os.write(2, b'E0000 00:00:1 123 cuda_platform.cc:52] failed call to cuInit: UNKNOWN\\n')\n"
            "import tensorflow as tf\n"
            "tf.config.list_physical_devices('GPU')\n"
            "sys.stderr.write('a real error stays\\n')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=_without_log_level())
    assert proc.returncode == 0, proc.stderr
    assert "a real error stays" in proc.stderr
    assert "port.cc" not in proc.stderr and "cuInit" not in proc.stderr and "cudart_stub" not in proc.stderr
    assert proc.stderr.count("start-up notes") <= 1


def test_a_log_level_the_user_set_is_respected():
    env = {**_without_log_level(), "TF_CPP_MIN_LOG_LEVEL": "0"}
    code = ("from gan_helpers._quiet import hide_tensorflow_startup_lines as h\n"
            "import os\n"
            "assert not h() and os.environ['TF_CPP_MIN_LOG_LEVEL'] == '0'\n"
            "os.write(2, b'port.cc:153] oneDNN custom operations are on\\n')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "port.cc:153] oneDNN" in proc.stderr
