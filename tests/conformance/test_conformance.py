"""Each scenario under real wandb and under runlake (through the alias), compared.

A scenario fails when an observation differs outside differences.DIFFERENCES. KNOWN_GAPS are
the scenarios that fail today for want of alias or Run API features being built elsewhere;
each is a strict xfail, so it turns red the moment it passes and must leave the list.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import score
from tests.conformance.compare import compare
from tests.conformance.differences import DIFFERENCES
from tests.conformance.harness import run_scenario, scenario_names

# Why each scenario fails today; a scenario leaves the list when the features land.
KNOWN_GAPS: dict[str, str] = {
    "artifacts": "Artifact API: add_file returns a dict, not a manifest entry; no "
    "artifact.manifest, get_entry; an unlogged artifact's version and aliases answer instead "
    "of raising ArtifactNotLoggedError; a second file under one name passes; "
    "use_artifact(Artifact) is refused",
    "define_metric": "define_metric() after finish() is accepted (wandb: UsageError)",
    "log_values": "the summary keeps a logged None (wandb leaves the key out), returns a "
    "logged np.int64 as numpy.int64 (not int), and flattens a logged nested dict",
    "misuse": "log() with a non-str key raises InvalidNameError, not a TypeError; "
    "Image('no/such/file') is not a FileNotFoundError; config.update, summary[...] = and "
    "define_metric after finish() pass (wandb: UsageError)",
    "modes": "mode='dryrun' is refused; a disabled run says offline=True and its summary "
    "keeps nothing; a bad mode is a UsageError, not a ValueError; an empty Artifact cannot be "
    "logged",
    "module_level": "the wandb alias: wandb.errors (one class hierarchy with wandb.Error, "
    "AuthenticationError, CommError, UnsupportedError), wandb.util, login, termlog/termwarn/"
    "termerror, setup/teardown, sweep/agent, log_artifact/use_artifact/log_model/use_model/"
    "link_model/mark_preempting at module level",
    "reinit": "an unknown reinit= value is accepted (wandb: ValueError)",
    "run_surface": "Run lacks config_static, pin_config_keys, project_url, sweep_url, "
    "sync_dir; init lacks force, anonymous, tensorboard, sync_tensorboard, monitor_gym; "
    "save lacks glob=; Table lacks log_mode=; Artifact lacks incremental, use_as, "
    "digest_algorithm, storage_region; add_file/add_dir/new_file lack policy, skip_cache, "
    "overwrite, is_tmp, merge; new_file opens with mode 'w' (wandb: 'x'); "
    "Config.update(allow_val_change=) defaults to False (wandb: None)",
    "steps": "run.summary has no _step (nor _runtime, _timestamp)",
    "summary": "run.summary has no _step, _runtime, _timestamp; run.summary.key = v is not "
    "stored; a logged nested dict is flattened to 'key.sub' in the summary (wandb keeps it "
    "nested); summary[...] = after finish() passes (wandb: UsageError)",
}


def _params() -> list:
    out = []
    for name in scenario_names():
        marks = [pytest.mark.slow]
        if name in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name]))
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("scenario", _params())
def test_scenario(scenario: str, wandb_python: Path, tmp_path: Path) -> None:
    wandb, runlake = run_scenario(scenario, wandb_python, tmp_path)
    if wandb.returncode != 0 or wandb.observed.get("done") is not True:
        pytest.fail(f"the scenario itself broke under real wandb: {wandb.describe_exit()}")
    report = compare(scenario, wandb, runlake, DIFFERENCES)
    score.REPORTS[scenario] = report
    message = report.explain()
    if runlake.returncode != 0:
        message += "\n" + runlake.describe_exit()
    assert not report.failures and not report.stale and runlake.returncode == 0, message
