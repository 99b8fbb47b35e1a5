"""Issue #30: has the evaluation of a PGD-trained model converged? AutoAttack's attacks and APGD's budget.

Loads the PGD-trained classifier that ``benchmarks/apgd_crosscheck.py`` saved (notebook 08's PGD recipe,
4 epochs; ``gh.adversarial.build_classifier()`` with the weights of ``--model``) and attacks the first
``--n`` of notebook 08's held-out digits (the ones apgd_crosscheck.py uses) at ε = 0.3 with

* APGD-CE: ``apgd(..., "ce", steps=100, restarts=1)``, as AutoAttack's standard version runs it;
* APGD-T: ``apgd_targeted(..., targets=9, steps=100)``, one run per target class (AutoAttack's standard);
* APGD-DLR: ``apgd(..., "dlr", steps=100)``;
* Square with 5,000 queries (AutoAttack's standard), run only on the digits that the three APGD attacks
  left robust (``robust_accuracy(..., only_survivors=["Square-5000"])``): the worst case is the same;

then prints each attack's robust accuracy, the per-example worst case over all four, and the convergence
table of ``apgd_convergence``: robust accuracy under APGD-CE for 10, 25, 50, 100 and 200 steps and 1, 2, 3
and 5 restarts. An evaluation has converged when more steps, more restarts and other attacks no longer
lower the figure. Every attack runs with the seed ``--attack-seed`` (notebook 08 uses 1), all digits in
one batch, so that the table's (100 steps, 1 restart) entry is the APGD-CE line exactly.

    .venv/bin/python benchmarks/apgd_crosscheck.py --model runs/apgd_crosscheck/pgd.weights.h5  # once
    .venv/bin/python benchmarks/attack_convergence.py            # 1,000 digits, the budgets above
    .venv/bin/python benchmarks/attack_convergence.py --fast     # a smoke test: 20 digits, small budgets

``--part attacks`` or ``--part convergence`` runs one half (on a busy machine each half of the default
takes many minutes). ``--fast`` cuts every budget (10 steps, 200 queries, 2 targets, steps 5 and 10,
1 and 2 restarts): its figures check that the script runs, nothing else.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "runs" / "apgd_crosscheck" / "pgd.weights.h5"

from apgd_crosscheck import EPS, data  # noqa: E402  (this folder: the same digits, the same ε)

import gan_helpers as gh  # noqa: E402
from gan_helpers import adversarial as adv  # noqa: E402

FULL = {"steps": 100, "targets": 9, "queries": 5000, "curve_steps": (10, 25, 50, 100, 200),
        "curve_restarts": (1, 2, 3, 5), "n": 1000}
FAST = {"steps": 10, "targets": 2, "queries": 200, "curve_steps": (5, 10), "curve_restarts": (1, 2), "n": 20}


def load_model(path: Path):
    """The classifier of apgd_crosscheck.py, rebuilt as it builds it, with the saved weights."""
    if not path.exists():
        raise SystemExit(f"{path} is missing: train and save the PGD model first (ART installed, see that "
                         "script's docstring) with\n    .venv/bin/python benchmarks/apgd_crosscheck.py "
                         f"--model {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    clf = adv.build_classifier()
    clf.load_weights(path)
    return clf


def attack_table(clf, x, y, budget: dict, seed: int, batch: int) -> None:
    steps, targets, queries = budget["steps"], budget["targets"], budget["queries"]
    square_name = f"Square-{queries}"
    attacks = {
        f"APGD-CE ({steps} steps, 1 run)":
            lambda m, a, b, e: adv.apgd(m, a, b, e, "ce", steps=steps, seed=seed, batch_size=batch),
        f"APGD-T ({targets} targets x {steps} steps)":
            lambda m, a, b, e: adv.apgd_targeted(m, a, b, e, targets=targets, steps=steps, seed=seed,
                                                 batch_size=batch),
        f"APGD-DLR ({steps} steps, 1 run)":
            lambda m, a, b, e: adv.apgd(m, a, b, e, "dlr", steps=steps, seed=seed, batch_size=batch),
        square_name: lambda m, a, b, e: adv.square(m, a, b, e, queries=queries, seed=seed, batch_size=batch),
    }
    seconds = {}

    def timed(name, attack):
        def run(m, a, b, e):
            t0 = time.perf_counter()
            out = attack(m, a, b, e)
            seconds[name] = time.perf_counter() - t0
            return out
        return run

    result = adv.robust_accuracy(clf, x, y, {k: timed(k, a) for k, a in attacks.items()}, EPS,
                                 batch_size=batch, only_survivors=[square_name])
    print(f"clean accuracy {result.clean:.1%} on {len(x):,} held-out digits; ε = {EPS}, seed {seed}")
    print(f"  {'attack':<40}{'robust accuracy':>16}{'digits attacked':>17}{'seconds':>9}")
    for name, acc in result.per_attack.items():
        label = f"{name}, survivors only" if name in result.on_survivors else name
        print(f"  {label:<40}{acc:>16.1%}{result.attacked[name]:>17,}{seconds.get(name, 0.0):>9.0f}")
    print(f"  {'worst case per example, all four':<40}{result.robust:>16.1%}"
          f"{'':>17}{sum(seconds.values()):>9.0f}")
    print(f"  (the Square line is the accuracy left after it: it only ran on the "
          f"{result.attacked[square_name]} digits that no APGD attack broke)")


def convergence_table(clf, x, y, budget: dict, seed: int, batch: int) -> None:
    t0 = time.perf_counter()
    curve = adv.apgd_convergence(clf, x, y, EPS, "ce", steps=budget["curve_steps"],
                                 restarts=budget["curve_restarts"], seed=seed, batch_size=batch)
    print(f"APGD-CE robust accuracy against its budget, {len(x):,} digits (clean {curve.clean:.1%}), "
          f"{time.perf_counter() - t0:.0f} s:")
    heads = [f"{r} restart" + ("s" if r > 1 else "") for r in curve.restarts]
    print(f"  {'steps':>7}" + "".join(f"{h:>14}" for h in heads))
    for n_steps, row in zip(curve.steps, curve.robust, strict=True):
        print(f"  {n_steps:>7}" + "".join(f"{v:>14.1%}" for v in row))
    if len(curve.steps) > 1:
        change = 100 * (curve.robust[-1, 0] - curve.robust[-2, 0])
        print(f"  {curve.steps[-2]} → {curve.steps[-1]} steps (1 run): {change:+.1f} points")
    if len(curve.restarts) > 1:
        change = 100 * (curve.robust[-1, -1] - curve.robust[-1, 0])
        print(f"  {curve.restarts[0]} → {curve.restarts[-1]} restarts ({curve.steps[-1]} steps): "
              f"{change:+.1f} points")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fast", action="store_true", help="smoke test: 20 digits, every budget cut")
    p.add_argument("--n", type=int, help="held-out digits attacked (default 1,000; --fast: 20)")
    p.add_argument("--part", choices=("all", "attacks", "convergence"), default="all")
    p.add_argument("--attack-seed", type=int, default=1, help="every attack's seed (08 uses 1)")
    p.add_argument("--batch", type=int, help="attack batch size (default: all digits in one batch)")
    p.add_argument("--model", type=Path, default=MODEL, help="apgd_crosscheck.py's saved weights")
    args = p.parse_args(argv)
    budget = dict(FAST if args.fast else FULL)
    n = args.n or budget["n"]
    t_start = time.perf_counter()
    clf = load_model(args.model)
    _, _, x, y = data(n)
    batch = args.batch or len(x)
    print(f"model: {args.model} (notebook 08's PGD recipe, apgd_crosscheck.py)"
          + ("; --fast: every budget cut, a smoke test" if args.fast else ""))
    if args.part in ("all", "attacks"):
        attack_table(clf, x, y, budget, args.attack_seed, batch)
    if args.part in ("all", "convergence"):
        convergence_table(clf, x, y, budget, args.attack_seed, batch)
    print(f"{time.perf_counter() - t_start:.0f} s in all on {gh.config.device_description()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
