"""Evidence that can fail: bugs planted in a copy of the package make the cross-checks fail.

Each case copies the package (sourcing_engine with api/, solvers/, cost_models/) and tests/
into a temporary directory, plants one bug by replacing one exact snippet, and runs the
cross-checks there in a fresh interpreter whose imports resolve to the copy. The unplanted
copy passes them; each planted bug fails every cross-check named for it:

- the fuel surcharge applied to the rate only, not to the residential surcharge
  (cost_models/parcel.py): before the independent pricer, only hand-computed unit tests
  caught it; optimal vs reference, reference vs brute force and reference vs validator all
  priced through the same cost model and agreed;
- per-unit handling dropped from the plan checker's prices (sourcing_engine/plan_check.py):
  before, the reference MIP priced through the plan checker and its own tests all passed.

The cross-checks run are the ones that compare independent prices with the code's:
`cost_models` against the independent pricer, the plan checker against it, and the reference
MIP (priced by it) against the plan checker. Hand-computed tests are left out on purpose.
"""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COPIED = ("api", "sourcing_engine", "solvers", "cost_models", "tests", "pyproject.toml")

AGREEMENT = "tests/test_independent_pricer.py::test_cost_models_agree_with_independent_pricer"
VALIDATOR = (
    "tests/sourcing_engine/test_validate.py::test_validator_prices_agree_with_independent_pricer"
)
REFERENCE = "tests/solvers/test_reference_mip.py::test_reference_plan_passes_validator"
CROSS_CHECKS = (AGREEMENT, VALIDATOR, REFERENCE)


@dataclass(frozen=True)
class Bug:
    """One planted bug: in `path`, the snippet `old` becomes `new`."""

    path: str
    old: str
    new: str
    caught_by: tuple[str, ...]


BUGS = {
    "fuel surcharge on the rate only": Bug(
        "cost_models/parcel.py",
        "        price = price + self.residential_surcharge * np.asarray(residential, "
        "dtype=np.float64)\n"
        "        result: FloatArray = price * (1.0 + self.fuel_surcharge_pct / 100.0)\n",
        "        result: FloatArray = price * (1.0 + self.fuel_surcharge_pct / 100.0) + (\n"
        "            self.residential_surcharge * np.asarray(residential, dtype=np.float64)\n"
        "        )\n",
        caught_by=(f"{AGREEMENT}[us-ground]", VALIDATOR, REFERENCE),
    ),
    "per-unit handling dropped from the plan checker": Bug(
        "sourcing_engine/plan_check.py",
        "handling_cost(per_shipment, per_unit, units)",
        "handling_cost(per_shipment, 0.0 * per_unit, units)",
        caught_by=(VALIDATOR, REFERENCE),
    ),
}


def _copy_repo(root: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "fixtures")
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(source, root / name)


def _plant(root: Path, bug: Bug) -> None:
    path = root / bug.path
    text = path.read_text()
    assert text.count(bug.old) == 1, (
        f"{bug.path} no longer holds the snippet this bug replaces exactly once; "
        f"update the planted bug to the code:\n{bug.old}"
    )
    path.write_text(text.replace(bug.old, bug.new))


def _run_cross_checks(root: Path) -> tuple[set[str], set[str], str]:
    """Run the cross-checks in the copy: (test ids run, test ids failed, pytest's output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(root)
    where = subprocess.run(
        [sys.executable, "-c", "import sourcing_engine.cost_models.parcel as m; print(m.__file__)"],
        cwd=root, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(root), where.stdout  # the copy is tested
    report = root / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--junitxml={report}", *CROSS_CHECKS],
        cwd=root, env=env, capture_output=True, text=True,
    )  # fmt: skip
    output = done.stdout[-4000:] + done.stderr[-2000:]
    assert report.exists(), output
    ran: set[str] = set()
    failed: set[str] = set()
    for case in ET.parse(report).iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        test_id = f"{module}::{case.get('name')}"
        ran.add(test_id)
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(test_id)
    return ran, failed, output


def test_unplanted_copy_passes_the_cross_checks(tmp_path: Path) -> None:
    """The copy without a planted bug passes every cross-check (so a failure below is the bug's)."""
    _copy_repo(tmp_path)
    ran, failed, output = _run_cross_checks(tmp_path)
    assert failed == set(), output
    for check in CROSS_CHECKS:
        assert any(test_id.startswith(check) for test_id in ran), (check, output)


@pytest.mark.parametrize("name", list(BUGS))
def test_planted_bug_fails_the_cross_checks(tmp_path: Path, name: str) -> None:
    """Each planted pricing bug fails every cross-check named for it."""
    bug = BUGS[name]
    _copy_repo(tmp_path)
    _plant(tmp_path, bug)
    _, failed, output = _run_cross_checks(tmp_path)
    missed = [check for check in bug.caught_by if check not in failed]
    assert missed == [], (
        f"{name}: these cross-checks passed with the bug planted: {missed}\n{output}"
    )
