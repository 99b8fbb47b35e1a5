import numpy as np

from gan_helpers import callbacks, data, plots
from tests.test_training import make_gan


def test_loss_history_recovers_each_steps_value_from_keras_running_means():
    values = [[3.0, 1.0, 2.0, 6.0], [5.0, 1.0]]
    cb = callbacks.LossHistory()
    for epoch, vals in enumerate(values):
        cb.on_epoch_begin(epoch)
        for k in range(len(vals)):
            cb.on_train_batch_end(k, {"d_loss": np.mean(vals[: k + 1])})
    np.testing.assert_allclose(cb.history["d_loss"], [3, 1, 2, 6, 5, 1])


def test_callbacks_record_grids_gif_losses_and_time(small_images, tmp_path):
    gan = make_gan()
    noise = np.random.default_rng(0).standard_normal((16, 8)).astype("float32")
    grid = callbacks.SampleGrid(noise, gif_path=tmp_path / "p.gif")
    hist, timer = callbacks.LossHistory(), callbacks.EpochTimer(32)
    ckpt = callbacks.GANCheckpoint(tmp_path / "ckpt", {"a": 1}, history=hist)
    gan.fit(data.make_dataset(small_images[:128], 32), epochs=2, verbose=0,
            callbacks=[grid, hist, timer, ckpt])
    assert grid.epochs == [0, 1, 2] and grid.frames[0].dtype == np.uint8
    assert not np.array_equal(grid.frames[0], grid.frames[-1])
    assert (tmp_path / "p.gif").stat().st_size > 1000
    assert len(hist.history["g_loss"]) == 8
    assert len(timer.seconds) == 2 and timer.images_per_second() > 0
    assert (tmp_path / "ckpt" / "history.json").exists() and ckpt.last_epoch == 2
    fig = hist.plot(steps_per_epoch=4, path=tmp_path / "l.png")
    assert (tmp_path / "l.png").exists() and len(fig.axes) >= 2


def test_image_grid_layout():
    grid = plots.image_grid(np.ones((5, 28, 28, 1), np.float32), ncols=3, pad=2)
    assert grid.shape == (2 * 30 + 2, 3 * 30 + 2)
    assert grid[2, 2] == 255 and grid.dtype == np.uint8
