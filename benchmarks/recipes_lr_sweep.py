"""A learning-rate sweep of notebook 07's three recipes at the notebook's short budget (Exercise 4).

Each recipe (the DCGAN recipe, WGAN-GP, SN-GAN with the hinge loss; everything but Adam's rate as the
package sets it) trains with each rate for about the generator steps that 60 s of training bought it in
notebook 07's committed full run on the shared 2-core CPU (``STEPS``), then 2,000 samples are measured
against the 2,000 held-out digits (FD-MNIST, confident share). Step-based, so another job on the machine
changes how long the sweep takes, not what it measures:

    python benchmarks/recipes_lr_sweep.py --export gan_helpers/results/lr_sweep.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

# each recipe's own rate first, then the others
RATES = {"DCGAN": [2e-3, 5e-4, 5e-3], "WGAN-GP": [1e-4, 1e-3, 3e-4], "SN-GAN": [2e-4, 2e-3, 5e-4]}
STEPS = {"DCGAN": 300, "WGAN-GP": 60, "SN-GAN": 300}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="WGAN-GP,DCGAN,SN-GAN")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-eval", type=int, default=2000)
    parser.add_argument("--export", type=Path, required=True, help="write the table here (JSON)")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv

    import gan_helpers as gh

    digits = gh.data.load_mnist(with_test=True)
    x_train = gh.data.to_gan_range(digits.x_train)
    net = gh.metrics.load_feature_net(digits.source, digits=digits)
    real_eval = digits.x_test[:args.n_eval]
    recipes = {"DCGAN": gh.recipes.DCGANRecipe(), "WGAN-GP": gh.variants.WGAN_GP, "SN-GAN": gh.variants.SNGAN}
    out = {"command": "python benchmarks/recipes_lr_sweep.py " + " ".join(given),
           "date": date.today().isoformat(), "device": gh.config.device_description(),
           "machine": platform.machine(), "versions": gh.config.versions(), "data": digits.describe(),
           "seed": args.seed, "n_eval": args.n_eval, "steps": STEPS,
           "note": "steps: about what 60 s of training bought each recipe in notebook 07's committed full "
                   "run on the 2-core CPU; one process; other jobs may share the CPU, so the seconds are "
                   "not a benchmark", "rows": []}
    names = args.recipes.split(",")
    if args.export.exists():   # rows of the recipes not rerun now stay
        out["rows"] = [r for r in json.loads(args.export.read_text())["rows"] if r["recipe"] not in names]
    for name in names:
        for lr in RATES[name]:
            recipe = recipes[name].replace(lr=lr)
            gh.config.set_seed(args.seed)
            rows = (recipe.rows_per_batch if isinstance(recipe, gh.variants.VariantRecipe)
                    else recipe.batch_size)
            gan = recipe.build(seed=args.seed)
            t0 = time.perf_counter()
            diverged = None
            try:
                gan.fit(gh.data.make_dataset(x_train, rows, seed=args.seed).repeat(), epochs=1,
                        steps_per_epoch=STEPS[name], verbose=0, callbacks=[gh.divergence.NaNGuard()])
            except gh.divergence.TrainingDiverged as exc:
                diverged = f"{exc.loss} = {exc.value} at step {exc.step}"
            wall = time.perf_counter() - t0
            row = {"recipe": name, "lr": lr, "default": lr == recipes[name].lr, "steps": STEPS[name],
                   "wall_s": round(wall, 1), "diverged": diverged}
            if diverged is None:
                m = gh.metrics.evaluate(net, gan.generate(args.n_eval, seed=args.seed), real_eval)
                row.update({k: m[k] for k in ("fd_mnist", "confident_share", "classes_present",
                                              "max_class_share")})
            out["rows"].append(row)
            print(json.dumps(row), flush=True)
            args.export.parent.mkdir(parents=True, exist_ok=True)
            args.export.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
