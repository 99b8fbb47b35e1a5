"""The mutation table: each derivation check in the notebooks must fail when its formula is altered.

Each entry is (text in one code cell, the same text altered). `tests/nbval_mutations.py` runs every
alteration inside nbval's own kernel session, just before nbval executes the cell: on a copy of the
kernel's namespace it runs the altered cell and the check cells right after it (an outcome assert moved into
its own check cell still guards the formula), and that run must end in AssertionError. Any other error, or
no error at all, fails that cell's test. `tests/test_notebook_checks.py` checks the table itself.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

MUTATIONS = {
    "01_adversarial_learning_overview.ipynb": [
        ("predicted.append(eps * np.abs(w).sum())", "predicted.append(eps * np.linalg.norm(w))"),
        ("best = linprog(-w, bounds=(-eps, eps)", "best = linprog(-w, bounds=(0, eps)"),    # the solver
        ('            g_loss_fn="nonsaturating")',
         "            g_loss_fn=lambda l: -gh.losses.generator_loss_nonsaturating(l))"),
        ("np.testing.assert_allclose(shift, np.where(y_te == 1, -1.0, 1.0) * e * np.abs(w).sum(), rtol=1e-3)",
         "np.testing.assert_allclose(shift, np.where(y_te == 1, -1.0, 1.0) * e * np.sqrt((w ** 2).sum()), "
         "rtol=1e-3)"),
        ("direction = np.where(y_te[:, None] == 1, -1.0, 1.0) * np.sign(w)",
         "direction = np.where(y_te[:, None] == 1, 1.0, -1.0) * np.sign(w)"),              # the attack's sign
    ],
    "03_toy_gan_mode_collapse.ipynb": [
        ("cov = ds.sigma**2 * np.eye(2) + centred.T @ centred / ds.n_modes",
         "cov = centred.T @ centred / ds.n_modes"),                                                  # (2)
        ("np.testing.assert_allclose(rayleigh, 1 - np.exp(-4.5)",
         "np.testing.assert_allclose(rayleigh, 1 - np.exp(-3.0)"),                                   # (4)
        ('np.testing.assert_allclose(collapsed["kl_uniform"], np.log(8)',
         'np.testing.assert_allclose(collapsed["kl_uniform"], np.log(7)'),                           # (3)
        ("np.testing.assert_allclose(snap.push, (1 - d) * grad_l,",
         "np.testing.assert_allclose(snap.push, d * grad_l,"),                                       # (5)
        ("np.testing.assert_allclose(snap_mm.push, d * grad_l,",
         "np.testing.assert_allclose(snap_mm.push, (1 - d) * grad_l,"),                              # (5)
        ("np.testing.assert_allclose(w1, np.linalg.norm(a - b), rtol=1e-6)",
         "np.testing.assert_allclose(w1, np.linalg.norm(a - b) ** 2, rtol=1e-6)"),                   # (6)
        ("np.testing.assert_allclose(gp, 1.0,",
         "np.testing.assert_allclose(gp, 10 - 6 * np.sqrt(2 / np.pi),"),                             # (6)
        ("np.testing.assert_allclose(sigma_max, 1.0, atol=0.02)",
         "np.testing.assert_allclose(sigma_max, 0.5, atol=0.02)"),                                   # (7)
        ("np.sqrt(h.var(0) + 1e-8).mean()", "np.sqrt(h.var(1) + 1e-8).mean()"),                      # (8)
        # coverage and KL over the high-quality samples only
        ('np.testing.assert_allclose(one_hq["kl_hq"], np.log(8)',
         'np.testing.assert_allclose(one_hq["kl_hq"], np.log(4)'),
        ('np.testing.assert_allclose(one_hq["top2_share"], collapsed["high_quality"]',
         'np.testing.assert_allclose(one_hq["top2_share"], collapsed["high_quality"] / 2'),
        # the collapse criterion must count high-quality samples, not the nearest-mode histogram of all
        ('return gh.toy.collapse_stats(cov)["top2_share"] >= 0.8', 'return cov["kl_uniform"] >= 0.8'),
        # spectral norm: a plain network must fail the per-layer check, and the check must see it
        ("sn_d = gh.models.build_mlp_discriminator(spectral_norm=True)",
         "sn_d = gh.models.build_mlp_discriminator(spectral_norm=False)"),
        # why the collapse stays: D* = 1/9 on the collapsed mode (9), KL = log 8, and the trained D near D*
        ("np.testing.assert_allclose(d_star, 1 / 9, rtol=1e-6)",
         "np.testing.assert_allclose(d_star, 1 / 8, rtol=1e-6)"),                                   # (9)
        ("np.testing.assert_allclose(kl, np.log(8), rtol=1e-6)",
         "np.testing.assert_allclose(kl, np.log(7), rtol=1e-6)"),
        ("np.log(8) - (np.log(16 / 9)", "np.log(8) - (np.log(16 / 8)"),    # KL − 2·JSD in closed form
        ("d_modes = gh.toy.d_on_modes(gan, RING)",                    # an untrained D must fail the check
         "d_modes = gh.toy.d_on_modes(gh.toy.build_toy_gan(baseline, seed=1), RING)"),
        # non-convergence: a generator that never learns (a learning rate of 1e-12) must fail the check
        ('streak = ToyRecipe("both rates 2e-4 (non-convergence)", g_lr=2e-4, d_lr=2e-4)',
         'streak = ToyRecipe("both rates 2e-4 (non-convergence)", g_lr=1e-12, d_lr=2e-4)'),
        # ... and so must a generator on the modes: coverage of real data (all 8 modes, top-two share 0.25)
        ("radius = np.array([np.median(np.linalg.norm(s.fake, axis=1)) for s in streak_rec.snapshots])",
         "streak_rec.coverage = [gh.metrics.mode_coverage(RING.sample(2500, seed=3), RING)]\n"
         "streak_rec.coverage *= len(streak_rec.steps)\n"
         "radius = np.array([np.median(np.linalg.norm(s.fake, axis=1)) for s in streak_rec.snapshots])"),
        # the collapse check: a baseline whose samples sit on no mode must fail it
        ("modes_w, hq_w = watch.series(",
         "watch = gh.toy.ToyRecorder(RING, z_watch)\n"
         "watch.steps = list(range(0, STEPS + 1, EVERY))\n"
         "watch.coverage = [gh.metrics.mode_coverage(np.zeros((2500, 2)), RING)] * len(watch.steps)\n"
         "modes_w, hq_w = watch.series("),
        # the study: a WGAN-GP whose generator never learns must fail the check. Its generator is frozen, so
        # a short run with one critic step per generator step gives the same outcome at a fraction of the cost
        ('wgan_runs = [r for r in rows if r["recipe"] == wgan_gp.name]',
         "wgan_runs = gh.toy.compare_recipes([__import__('dataclasses').replace(wgan_gp, g_lr=1e-12, "
         "d_steps=1)], RING, STUDY_SEEDS, STUDY_EVERY, STUDY_EVERY)"),
        ("plain_d = gh.models.build_mlp_discriminator(spectral_norm=False)",
         "plain_d = sn_d"),
        # WGAN-GP Algorithm 1: a trainer that shows one batch to every critic step must fail
        ("    seen.append(np.asarray(real))\n", "    seen.append(five_batches[-32:])\n"),
    ],
    "04_dcgan_mnist.ipynb": [
        ("betas = np.array([min(RECIPE.ema_decay, (1 + t) / (10 + t))",
         "betas = np.array([min(RECIPE.ema_decay, (1 + t) / (2 + t))"),                              # (5)
        ("shares = [(1 - betas[t]) * np.prod(betas[t + 1:])",
         "shares = [(1 - betas[t]) * np.prod(betas[t:])"),                                           # (4)
        ("np.testing.assert_allclose(float(gh.losses.generator_loss_nonsaturating(l_f)),\n"
         "                           -np.mean(np.log(sig(l_f)))",
         "np.testing.assert_allclose(float(gh.losses.generator_loss_nonsaturating(l_f)),\n"
         "                           np.mean(np.log(1 - sig(l_f)))"),                                # (3)
        # self-conditioning: the cluster code's shares (6), and the move of z₁ into a band (7)
        ("code = gh.layers.ClusterCode(shares)", "code = gh.layers.ClusterCode(shares[::-1])"),
        ('c_eq6 = np.searchsorted(Pi[1:-1], ndtr(z[:, 0]), side="right")',
         'c_eq6 = np.searchsorted(Pi[1:-1], ndtr(z[:, 1]), side="right")'),            # (6): wrong coordinate
        ("z1_eq7 = ndtri(Pi[wanted] + shares[wanted] * ndtr(z[:, 0]))",
         "z1_eq7 = ndtri(Pi[wanted] + shares[wanted] * (1 - ndtr(z[:, 0])))"),        # (7) mirrored
        ('z_moved = keras.ops.convert_to_numpy(code.noise_for(z, wanted.astype("int32")))',
         "z_moved = z.copy()"),
    ],
    "06_conditional_gan.ipynb": [
        ("np.testing.assert_allclose(q_xy / (q_xy + p_xy)",
         "np.testing.assert_allclose(p_xy / (q_xy + p_xy)"),                              # D* = σ(f*)
        ("E = V_q - V_p", "E = V_q + V_p"),                                               # (5): e_y
        ("r_x = np.log(q_x / p_x) - logsumexp(phi @ V_q.T, axis=1) + logsumexp(phi @ V_p.T, axis=1)",
         "r_x = np.log(q_x / p_x)"),                                                               # (5): r(x)
        ("np.testing.assert_allclose(gap, phi @ (E - E[0]).T",
         "np.testing.assert_allclose(gap, phi @ E.T"),                                  # (5): the label term
        ("resid = r_x - A @ np.linalg.lstsq(A, r_x, rcond=None)[0]",
         "resid = A[:, 0] - A @ np.linalg.lstsq(A, A[:, 0], rcond=None)[0]"),       # r(x) is not linear in φ
        ("r_logz = r_x - np.log(q_x / p_x)", "r_logz = phi @ E[0]"),      # log Z alone is not linear in φ
        ("b_psi[0] + np.sum(E_d[yb] * features, axis=1)",
         "b_psi[0] + np.sum(E_d[(yb + 1) % 10] * features, axis=1)"),                                # (3)
    ],
    "07_wgan_gp_and_friends.ipynb": [
        ("w1_sorted = np.mean(np.abs(np.sort(a) - np.sort(b)))",
         "w1_sorted = np.mean(np.abs(a - b))"),                                      # (1): the coupling
        ("    return x                                                   # 1-Lipschitz: slope 1",
         "    return 2 * x"),                                                        # (1): Lipschitz 2
        ("np.testing.assert_allclose(penalty, (norm - 1) ** 2, rtol=1e-4)",
         "np.testing.assert_allclose(penalty, abs(norm - 1), rtol=1e-4)"),            # (4)
        # Algorithm 1: a trainer that shows one batch to every critic step must fail
        ("wgan_probe.d_step = lambda real, *args: (seen.append(np.asarray(real)), d_step(real, *args))[1]",
         "wgan_probe.d_step = lambda real, *args: (seen.append(five_batches[-64:]), "
         "d_step(real, *args))[1]"),
        ("np.testing.assert_allclose(np.maximum(0, 1 - real_scores).mean() + "
         "np.maximum(0, 1 + fake_scores).mean(),",
         "np.testing.assert_allclose(np.maximum(0, 1 + real_scores).mean() + "
         "np.maximum(0, 1 - fake_scores).mean(),"),                                   # (5): roles swapped
        ("np.testing.assert_allclose(np.maximum(0, 1 - real_scores).mean() + np.maximum(0, 1 + fake_scores)",
         "np.testing.assert_allclose(np.maximum(0, -real_scores).mean() + np.maximum(0, fake_scores)"),  # (5)
        ("sigma_svd = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]",
         "sigma_svd = np.linalg.norm(kernel)"),                                     # (6): not Frobenius
        ("for _ in range(100):", "for _ in range(0):"),                            # SN must normalise
        # λ·GP recovered from the stored logs: L_D of (4) less the terms of (2)
        ('lambda_gp = np.array([r["d_loss"] for r in rec]) + w_hat',
         'lambda_gp = np.array([r["d_loss"] for r in rec]) - w_hat'),
        # the step-counter baseline of section 6: ranked the wrong way round, the check must fail
        ('("WGAN-GP: −step", -steps, fd_wgan, steps)', '("WGAN-GP: −step", steps, fd_wgan, steps)'),
        # a critic read as 1-Lipschitz at its peak must fail the check of section 6
        ('grad_norm = np.array([r["grad_norm"] for r in LONG["WGAN-GP"]["records"][1:]])',
         "grad_norm = np.ones(len(steps))"),
        # section 5: WGAN-GP's tracked FD read as SN-GAN's must fail the crossing check
        ('tracked = {name: np.array([r["quality"] for r in run["records"]]) for name, run in LONG.items()}',
         'tracked = {name: np.array([r["quality"] for r in LONG["SN-GAN"]["records"]]) for name in LONG}'),
    ],
    "08_adversarial_examples.ipynb": [
        ("2 * np.abs(x_pert - x_test[:8]).max(), rtol=1e-6)",
         "np.abs(x_pert - x_test[:8]).max(), rtol=1e-6)"),                          # ε on [−1, 1] is 2ε
        ("lo, hi = np.maximum(-EPS, -x0[0]), np.minimum(EPS, 1 - x0[0])",
         "lo, hi = -EPS + 0 * x0[0], EPS + 0 * x0[0]"),                              # (2): the box Δ(x)
        ("EPS * np.abs(g[inner]).sum(), rtol=1e-5)", "EPS * np.linalg.norm(g[inner]), rtol=1e-5)"),   # (4)
        ("allowed = grid[np.abs(grid - xi) <= EPS + 1e-7]",
         "allowed = grid[np.abs(grid - xi) <= 2 * EPS]"),                            # the projection
        ("p = [0.0, 0.22]", "p = [0.0, 0.2]"),                                      # (8): APGD checkpoints
        ("/ (top[:, 0] - top[:, 2])    # equation (9)",
         "/ (top[:, 0] - top[:, 1])    # equation (9)"),                             # (9): DLR
    ],
    "02_gan_objective_derivation.ipynb": [
        ("np.log(1 - D_fixed(MU + SIGMA * z))", "np.log(1 - D_fixed(z))"),                          # (1)
        ("+ gaussian_pdf(t, MU, SIGMA) * np.log(1 - D_fixed(t))",
         "+ gaussian_pdf(t, MU, SIGMA) * np.log(D_fixed(t))"),                                      # (2)
        ("y_star = a / (a + b)", "y_star = a / (a + 2 * b)"),                                        # (3)
        ("d_star = gh.theory.optimal_discriminator(p_data, p_g)", "d_star = p_g / (p_data + p_g)"),  # (4)
        # the trained discriminator (check cell): real and fake swapped in its loss
        ("loss = gh.losses.discriminator_loss(net(real), net(fake))",
         "loss = gh.losses.discriminator_loss(net(fake), net(real))"),
        ("eq5 = -np.log(4) + kl_divergence(p, m) + kl_divergence(q, m)",
         "eq5 = -np.log(4) + kl_divergence(m, p) + kl_divergence(m, q)"),                            # (5)
        ("eq6 = -np.log(4) + 2 * js_divergence(p, q)", "eq6 = -np.log(4) + js_divergence(p, q)"),    # (6)
        ("rhs = -np.log(4) + 2 * gh.theory", "rhs = -np.log(2) + 2 * gh.theory"),                    # (6)
        ("assert (mus[j], sigmas[i]) == (0.0, 1.0)\nnp.testing.assert_allclose(C[i, j], -np.log(4)",
         "assert (mus[j], sigmas[i]) == (0.0, 1.0)\nnp.testing.assert_allclose(C[i, j], -np.log(2)"),
        ("np.testing.assert_allclose(tape.gradient(per_logit_mm, l), -sig,",
         "np.testing.assert_allclose(tape.gradient(per_logit_mm, l), -(1 - sig),"),                  # (7)
        ("np.testing.assert_allclose(tape.gradient(per_logit_ns, l), -(1 - sig),",
         "np.testing.assert_allclose(tape.gradient(per_logit_ns, l), -sig,"),                        # (7)
        ("float(bce(ones, l_real)) + float(bce(zeros, l_fake))",
         "float(bce(ones, l_real)) + float(bce(ones, l_fake))"),                                     # (8)
        ("np.logaddexp(0, -u), rtol=1e-6)     # (9), left", "np.logaddexp(0, u), rtol=1e-6)"),       # (9)
        ("return tf.reduce_mean(tf.nn.softplus(-l) + tf.nn.softplus(l))",
         "return tf.reduce_mean(tf.nn.softplus(-l))"),                                 # mistake 1
        ("loss = sign * value(d_net, real_b, fake_b)",
         "loss = 0 * sign * value(d_net, real_b, fake_b)"),          # mistake 4: a no-op D must fail too
        ("loss = sign * value(d_net, real_b, fake_b)",
         "loss = -sign * value(d_net, real_b, fake_b)"),                               # mistake 4
        # C(G) on Gaussians: sampling against integration (no longer the same integrand on both sides)
        ("np.log(1 - d_star_at(mu + sigma * z_s, mu, sigma))",
         "np.log(d_star_at(mu + sigma * z_s, mu, sigma))"),
        ("rhs = -np.log(4) + 2 * gh.theory.js_divergence_gaussians(0, 1, mu, sigma)",
         "rhs = -np.log(4) + gh.theory.js_divergence_gaussians(0, 1, mu, sigma)"),
        # saturation over the whole region l ≤ −3
        ("per_logit_mm = -tf.nn.softplus(l)", "per_logit_mm = -tf.nn.softplus(-l)"),
        # Theorem 2.5 (7b) and its minimax counterpart
        ("np.dot([1, -2], reverse_kl_and_jsd(m, s, log_p))",
         "np.dot([1, 0], reverse_kl_and_jsd(m, s, log_p))"),
        ("two_jsd = fd_grad(lambda m, s: 2 * reverse_kl_and_jsd(m, s, log_p)[1], mu0, s0)",
         "two_jsd = fd_grad(lambda m, s: reverse_kl_and_jsd(m, s, log_p)[1], mu0, s0)"),
        # KL − 2 JSD = 2 KL(m ‖ p_data) (7c); a collapsed generator: D* = 1/(k + 1) on the mode (7d),
        # KL = log k, both losses stationary
        ("return 2 * trapezoid(np.exp(lm) * (lm - lp), t)",
         "return 2 * trapezoid(np.exp(lp) * (lp - lm), t)"),                                       # (7c)
        ("np.testing.assert_allclose(d_mode, 1 / (k + 1)", "np.testing.assert_allclose(d_mode, 1 / k"),
        ("np.testing.assert_allclose(kl_c, np.log(k)", "np.testing.assert_allclose(kl_c, np.log(k + 1)"),
        ("grads = fd_grad(objectives, *collapse)",
         "grads = fd_grad(objectives, collapse[0] - 0.3, collapse[1])"),
        # the KL barrier (NS objective lowest at the collapse along the path) and the JSD's spread minimum
        ("return np.array([kl - 2 * jsd, 2 * jsd])", "return np.array([-2 * jsd, 2 * jsd])"),
        ("return np.array([kl - 2 * jsd, 2 * jsd])", "return np.array([kl - 2 * jsd, 2 * kl])"),
        # the JSD's local minimum next to the collapse, the ridge, and the spread fit must see the JSD
        ("return np.array([kl - 2 * jsd, 2 * jsd])", "return np.array([kl - 2 * jsd, kl - 2 * jsd])"),
        # mistake 2: L_G = L_D
        ("np.testing.assert_allclose(grad_fake * n_b, tf.sigmoid(l_fake).numpy(),",
         "np.testing.assert_allclose(grad_fake * n_b, -(1 - tf.sigmoid(l_fake).numpy()),"),
        ('for name, g_loss in (("L_G = L_D", lambda lf: gh.losses.discriminator_loss(l_real_fixed, lf)),',
         'for name, g_loss in (("L_G = L_D", gh.losses.generator_loss_nonsaturating),'),
        # mistake 3: the double sigmoid's gradient
        ("np.testing.assert_allclose(g_double, -tf.sigmoid(-s_l).numpy() * s_l * (1 - s_l), rtol=1e-10)",
         "np.testing.assert_allclose(g_double, -tf.sigmoid(-s_l).numpy() * (1 - s_l), rtol=1e-10)"),
        ("double_real = tf.nn.softplus(-tf.sigmoid(l))", "double_real = tf.nn.softplus(-l)"),
        # mistake 5: the generator's loss on real images
        ("right_loss = gh.losses.generator_loss_nonsaturating(D_small(G_small(z_batch, training=True)))",
         "right_loss = gh.losses.generator_loss_nonsaturating(D_small(real_imgs))"),
    ],
    # the learning check: a generator that draws blanks, or one that never trained, must fail it
    "09_distributed_training.ipynb": [
        # the two-replica run logs losses summed over the replicas instead of their mean
        ("two, two_logs = distribute.train_one_batch(strategy, small_gan(), points, init)",
         "two, two_logs = distribute.train_one_batch(strategy, small_gan(), points, init)\n"
         "two_logs = {k: 2 * v for k, v in two_logs.items()}"),
        # both replicas keep the first block of rows: they share their noise
        ("rows = [keras.ops.convert_to_numpy(r) for r in rows]",
         "rows = [keras.ops.convert_to_numpy(rows[0])] * 2"),
        # the optimizer created inside the scope after all: compile accepts it
        ("d_opt_outside = keras.optimizers.Adam(2e-4)",
         "with strategy.scope():\n    d_opt_outside = keras.optimizers.Adam(2e-4)"),
        # batch norm never synchronised: the moving means drift apart in both settings
        ("keras.layers.BatchNormalization(synchronized=synchronized)",
         "keras.layers.BatchNormalization(synchronized=False)"),
        ('"two replicas": draw(dcgan)', '"two replicas": np.full_like(draw(dcgan), -1.0)'),
        ('"two replicas": draw(dcgan)', '"two replicas": draw(untrained)'),
        # both workers ignored TF_CONFIG and trained alone: equal digests, but no multi-worker strategy
        ("texts = [log.read_text() for log in logs]",
         "texts = [log.read_text().replace('MultiWorkerMirroredStrategy, 2 replicas', "
         "'one device (batch 64)') for log in logs]"),
        # worker 1 acted as a chief (a wrong task index): its log reads like worker 0's
        ("texts = [log.read_text() for log in logs]", "texts = [logs[0].read_text()] * 2"),
    ],
}


def code_cells(path: Path) -> list[tuple[str, bool]]:
    """The notebook's code cells in nbval's numbering, each with whether it is a check cell."""
    nb = nbformat.read(path, as_version=4)
    return [(c.source, "check" in c.metadata.get("tags", [])) for c in nb.cells if c.cell_type == "code"]


def sites(path: Path, table: dict | None = None) -> dict[int, list[tuple[str, str]]]:
    """The alterations of one notebook by code cell; each text must occur in exactly one cell."""
    cells = code_cells(path)
    out: dict[int, list[tuple[str, str]]] = {}
    for old, new in (MUTATIONS if table is None else table).get(path.name, []):
        where = [i for i, (src, _) in enumerate(cells) if old in src]
        if len(where) != 1:
            raise ValueError(f"{old!r} should occur in exactly one code cell of {path.name}, "
                             f"found {len(where)}")
        out.setdefault(where[0], []).append((old, new))
    return out


def checks_after(cells: list[tuple[str, bool]], i: int) -> list[str]:
    """The check cells that follow code cell i directly (markdown between them does not count)."""
    out = []
    for src, is_check in cells[i + 1:]:
        if not is_check:
            break
        out.append(src)
    return out
