"""What `pip install` puts into an environment: one package, `sourcing_engine`, with the API,
solvers and cost models inside it, working from a directory that has folders of its own
named like ours."""

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(out), str(REPO)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (found,) = out.glob("sourcing_engine-*.whl")
    return found


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    """Nothing generic lands at the top of site-packages: only sourcing_engine (and its
    dist-info); the API, solvers, cost models and the Lua scripts are inside it."""
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"sourcing_engine"}
    for inside in ("api/app.py", "solvers/optimal.py", "cost_models/parcel.py",
                   "stores/lua/write_order.lua", "py.typed"):  # fmt: skip
        assert f"sourcing_engine/{inside}" in names


def test_installed_package_imports_beside_a_foreign_api_folder(wheel: Path, tmp_path: Path) -> None:
    """Installed into a fresh environment, the app and the CLI import and run from a
    directory that holds its own api/, solvers/ and cost_models/ packages."""
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    with zipfile.ZipFile(wheel) as z:  # pip's install of a pure wheel: unpack it
        z.extractall(site)
    # dependencies (numpy, FastAPI, ...) from this test's environment, not the project
    deps = Path(sysconfig.get_paths()["purelib"])
    (Path(site) / "deps.pth").write_text(f"{deps}\n{sysconfig.get_paths()['platlib']}\n")
    work = tmp_path / "work"
    for name in ("api", "solvers", "cost_models"):
        (work / name).mkdir(parents=True)
        (work / name / "__init__.py").write_text(f"raise ImportError('the foreign {name}')\n")
    check = (
        "import sourcing_engine, sourcing_engine.api.app as app, sourcing_engine.cli as cli;"
        f"assert sourcing_engine.__file__.startswith({site!r}), sourcing_engine.__file__;"
        "app.create_app; print(cli.main(['--version']))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run(
        [str(python), "-c", check], cwd=work, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert not any((Path(site) / name).exists() for name in ("api", "solvers", "cost_models"))
