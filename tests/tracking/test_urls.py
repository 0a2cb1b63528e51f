"""The url family: None for a local run (wandb's Run reference: offline runs have no url),
real links once a dashboard base URL is configured, the same on the read side."""

from __future__ import annotations

import pytest

import runlake


def test_local_run_has_no_urls(root):
    with runlake.init(project="p", settings={"root": root}) as run:
        assert run.url is None
        assert run.get_url() is None
        assert run.get_project_url() is None
        assert run.get_sweep_url() is None


def test_disabled_run_has_no_urls(monkeypatch):
    monkeypatch.setenv("RUNLAKE_BASE_URL", "https://dash.example.com")
    with runlake.init(mode="disabled") as run:
        assert (run.url, run.get_project_url(), run.get_sweep_url()) == (None, None, None)


def test_base_url_setting_gives_links(root):
    settings = runlake.Settings(base_url="https://dash.example.com/lake/")
    with runlake.init(project="mnist", entity="team", id="abc123", 
                      settings=settings.replace(root=root)) as run:
        assert run.url == "https://dash.example.com/lake/team/mnist/runs/abc123"
        assert run.get_url() == run.url
        assert run.get_project_url() == "https://dash.example.com/lake/team/mnist"
        assert run.get_sweep_url() is None  # no sweep
    api = runlake.Api(root=root, base_url="https://dash.example.com/lake")
    assert api.run("team/mnist/abc123").url == "https://dash.example.com/lake/team/mnist/runs/abc123"


def test_base_url_from_environment(root, monkeypatch):
    monkeypatch.setenv("RUNLAKE_BASE_URL", "http://localhost:8080")
    with runlake.init(project="p", id="r1", settings={"root": root}) as run:
        assert run.url == "http://localhost:8080/local/p/runs/r1"
        assert run.settings.base_url == "http://localhost:8080"
    assert runlake.Api(root=root).run("p/r1").url == "http://localhost:8080/local/p/runs/r1"


def test_wandb_base_url_is_not_a_dashboard(root, monkeypatch):
    # WANDB_BASE_URL is wandb's API server: linking runs to it would be wrong.
    monkeypatch.setenv("WANDB_BASE_URL", "https://api.wandb.ai")
    with runlake.init(project="p", settings={"root": root}) as run:
        assert run.url is None


@pytest.mark.parametrize("bad", ["dash.example.com", "ftp://x/y", "https://", "file:///tmp"])
def test_bad_base_url_is_a_clear_error(root, bad):
    with pytest.raises(runlake.InvalidValueError, match="http:// or https:// URL"):
        runlake.init(settings=runlake.Settings(root=root, base_url=bad))
    assert runlake.run is None


def test_bad_base_url_in_environment_names_the_variable(root, monkeypatch):
    monkeypatch.setenv("RUNLAKE_BASE_URL", "not a url")
    with pytest.raises(runlake.InvalidValueError, match=r"\$RUNLAKE_BASE_URL"):
        runlake.init(settings={"root": root})
    with pytest.raises(runlake.InvalidValueError, match=r"\$RUNLAKE_BASE_URL"):
        runlake.Api(root=root)
