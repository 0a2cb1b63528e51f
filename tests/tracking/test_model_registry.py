"""run.log_model / use_model / link_model with the examples and checks of
wandb's Run reference."""

from __future__ import annotations

from pathlib import Path

import pytest
import runlake


@pytest.fixture(autouse=True)
def _store(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAKE_DIR", str(root))


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "local" / "directory"
    folder.mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01weights")
    (folder / "config.json").write_text('{"layers": 2}')
    return folder


def test_reference_log_model_example(root: Path, model_dir: Path) -> None:
    with runlake.init(project="p") as run:
        assert run.log_model(
            path=str(model_dir),
            name="my_model_artifact",
            aliases=["production"],
        ) is None
    art = runlake.Api(root).artifact("p/my_model_artifact:production")
    assert art.type == "model" and art.files() == ["config.json", "weights.bin"]
    assert art.aliases == ["latest", "production"]
    assert runlake.Api(root).run(f"local/p/{run.id}").logged_artifacts()[0].name == "my_model_artifact:v0"


def test_reference_log_model_invalid_usage() -> None:
    with runlake.init(project="p") as run:
        with pytest.raises(ValueError, match="characters"):
            run.log_model(
                path="/local/directory",
                name="my_entity/my_project/my_model_artifact",
                aliases=["production"],
            )
        for bad in ("a b", "x:y", "ü", ""):
            with pytest.raises(ValueError):
                run.log_model(path="/local/directory", name=bad)


def test_log_model_default_name_and_dedup(root: Path, model_dir: Path) -> None:
    with runlake.init(project="p") as run:
        run.log_model(model_dir / "weights.bin")
        run.log_model(model_dir / "weights.bin")  # same bytes: the same version
        versions = runlake.Api(root).artifact_versions("model", f"p/run-{run.id}-weights.bin")
    assert [a.version for a in versions] == ["v0"]


def test_reference_use_model_examples(root: Path, model_dir: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with runlake.init(entity="my_entity", project="my_project") as run:
        run.log_model(str(model_dir), name="my_model_artifact")
        run.log_model(str(model_dir / "weights.bin"), name="single_model")
        digest = runlake.Api(root).artifact("my_entity/my_project/my_model_artifact:v0").digest
    monkeypatch.chdir(tmp_path)
    with runlake.init(entity="my_entity", project="my_project") as run:
        path = run.use_model(
            name="my_model_artifact:latest",
        )
        assert (Path(path) / "weights.bin").read_bytes() == b"\x00\x01weights"
        run.use_model(
            name="my_project/my_model_artifact:v0",
        )
        by_digest = run.use_model(
            name=f"my_entity/my_project/my_model_artifact:{digest}",
        )
        assert Path(by_digest) == Path(path)
        one = run.use_model("single_model:v0")
        assert Path(one).is_file() and Path(one).name == "weights.bin"
        with pytest.raises(ValueError, match="version or alias"):
            run.use_model(
                name="my_entity/my_project/my_model_artifact",
            )
    used = runlake.Api(root).run(f"my_entity/my_project/{run.id}").used_artifacts()
    assert {a.name for a in used} == {"my_model_artifact:v0", "single_model:v0"}


def test_use_model_refuses_a_non_model_type(root: Path, tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b")
    with runlake.init(project="p") as run:
        run.log_artifact(str(data), name="dataset_v", type="dataset")
        with pytest.raises(AssertionError, match="'model'"):
            run.use_model("dataset_v:latest")


def test_reference_link_model_example(root: Path, model_dir: Path) -> None:
    with runlake.init(project="p") as run:
        assert run.link_model(
            path=str(model_dir),
            registered_model_name="my_reg_model",
            name="my_model_artifact",
            aliases=["production"],
        ) is None
        (model_dir / "weights.bin").write_bytes(b"better")
        run.link_model(path=str(model_dir), registered_model_name="my_reg_model",
                       name="my_model_artifact")
    api = runlake.Api(root)
    registered = api.artifact_versions("model", "local/model-registry/my_reg_model")
    assert [a.version for a in registered] == ["v0", "v1"]
    assert api.artifact("local/model-registry/my_reg_model:production").version == "v0"
    assert api.artifact("local/model-registry/my_reg_model:latest").digest == \
        api.artifact("p/my_model_artifact:v1").digest
    # aliases given to link_model apply in the registry only
    assert api.artifact("p/my_model_artifact:v0").aliases == []


def test_reference_link_model_invalid_usage() -> None:
    with runlake.init(project="p") as run:
        with pytest.raises(AssertionError, match="not a path"):
            run.link_model(
                path="/local/directory",
                registered_model_name="my_entity/my_project/my_reg_model",
                name="my_model_artifact",
                aliases=["production"],
            )
        with pytest.raises(ValueError, match="characters"):
            run.link_model(
                path="/local/directory",
                registered_model_name="my_reg_model",
                name="my_entity/my_project/my_model_artifact",
                aliases=["production"],
            )
        with pytest.raises(ValueError, match="registered_model_name"):
            run.link_model(path="/local/directory", registered_model_name="bad name")


def test_link_model_refuses_an_artifact_whose_type_is_not_a_model(root: Path, model_dir: Path,
                                                                 tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b")
    with runlake.init(project="p") as run:
        run.log_artifact(str(data), name="features", type="dataset")
        with pytest.raises(AssertionError, match="'model'"):
            run.link_model(str(model_dir), registered_model_name="reg", name="features")
        with pytest.raises(AssertionError, match="'model'"):
            run.log_model(str(model_dir), name="features")
        run.log_artifact(str(data), name="typed", type="my-model")
        run.link_model(str(model_dir), registered_model_name="reg", name="typed")
    assert runlake.Api(root).artifact("model-registry/reg:latest").type == "my-model"


def test_disabled_run_model_calls_are_no_ops(model_dir: Path) -> None:
    with runlake.init(mode="disabled") as run:
        assert run.log_model(str(model_dir), name="m") is None
        assert run.link_model(str(model_dir), registered_model_name="reg") is None
        with pytest.raises(ValueError):
            run.log_model(str(model_dir), name="bad/name")
