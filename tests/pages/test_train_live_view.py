"""The Train page's live view: which job it follows, through AppTest."""

from cnnkit.config import TrainConfig

LONG = TrainConfig(dataset="digits", arch="kaggle_mnist_cnn", epochs=100_000, train_limit=100)  # until cancelled


def live_view_heading(at) -> str:
    return next(header.value for header in at.subheader if header.value.startswith("Live view · "))


def test_the_live_view_stays_on_the_job_it_follows_when_that_job_is_cancelled(app, monkeypatch):
    import app_pages.common

    monkeypatch.setattr(app_pages.common, "visitor", lambda: "address 10.0.0.7")
    manager = app_pages.common.job_manager()
    jobs = {name: manager.submit(LONG, name=name, visitor="address 10.0.0.7") for name in ("older run", "newer run")}
    try:
        at = app.run()
        followed = live_view_heading(at).removeprefix("Live view · ").split(" (")[0]
        assert followed in jobs
        manager.cancel(jobs[followed])
        assert manager.wait(jobs[followed], 120).state == "cancelled"
        other = next(name for name in jobs if name != followed)
        assert manager.find(jobs[other]).is_active  # a run the view could jump to
        at.run()
        assert live_view_heading(at) == f"Live view · {followed} (cancelled)"
        assert not at.exception
    finally:
        for job_id in jobs.values():
            manager.cancel(job_id)
            manager.wait(job_id, 120)
