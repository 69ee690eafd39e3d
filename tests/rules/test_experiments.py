"""Experiments: the section's validation, stable arms, and the uplift formula."""

from __future__ import annotations

import math

import pytest

from rules import CatalogueError, load_catalogue_files
from rules.experiments import CHALLENGER, CHAMPION, CONTROL, Experiment, Rate, uplift
from rules.load.files import read_files

SECTION = """experiments:
  - name: lifecycle_low
    challenger: 0123456789ab
    challenger_share: 0.2
    control_share: 0.1
"""


def test_the_section_loads_into_the_catalogue_and_changes_its_version() -> None:
    files = read_files()
    plain = load_catalogue_files(files)
    cat = load_catalogue_files({**files, "experiments.yaml": SECTION})
    assert plain.experiment is None
    assert cat.experiment == Experiment("lifecycle_low", "0123456789ab", 0.2, 0.1)
    assert cat.version != plain.version


def test_every_problem_of_the_section_is_named_by_file_and_path() -> None:
    bad = """experiments:
  - name: Bad Name
    challenger: latest
    challenger_share: 0.8
    control_share: 0.5
    colour: blue
  - name: second
"""
    with pytest.raises(CatalogueError) as err:
        load_catalogue_files({**read_files(), "experiments.yaml": bad})
    got = err.value.problems
    assert "experiments.yaml: experiments: 2 experiments: run one at a time (a customer is in " \
           "exactly one arm)" in got
    assert any(p.startswith("experiments.yaml: experiments[0].name:") for p in got)
    assert any(p.startswith("experiments.yaml: experiments[0].challenger:") for p in got)
    assert any(p.startswith("experiments.yaml: experiments[0]: unknown field 'colour'")
               for p in got)
    assert any(p.startswith("experiments.yaml: experiments[0].control_share:") and "over 1" in p
               for p in got)


def test_arms_take_their_shares_and_never_change() -> None:
    exp = Experiment("lifecycle_low", "0123456789ab", 0.2, 0.1)
    n = 10_000
    arms = {f"c{i:06d}": exp.arm(f"c{i:06d}") for i in range(n)}
    counts = {a: sum(1 for v in arms.values() if v == a) for a in (CHAMPION, CHALLENGER, CONTROL)}
    for arm, share in ((CHALLENGER, 0.2), (CONTROL, 0.1), (CHAMPION, 0.7)):
        tolerance = 4 * math.sqrt(n * share * (1 - share))  # four binomial standard deviations
        assert abs(counts[arm] - n * share) < tolerance, (arm, counts)
    assert all(exp.arm(c) == a for c, a in arms.items())
    other = Experiment("another", "0123456789ab", 0.2, 0.1)
    assert sum(other.arm(c) != a for c, a in arms.items()) > n * 0.2, "name must reshuffle arms"


def test_uplift_is_the_difference_of_proportions_with_a_wald_interval() -> None:
    d, low, high = uplift(Rate(300, 1000), Rate(200, 1000))  # type: ignore[misc]
    se = math.sqrt(0.3 * 0.7 / 1000 + 0.2 * 0.8 / 1000)
    assert d == pytest.approx(0.1)
    assert (low, high) == (pytest.approx(0.1 - 1.959964 * se), pytest.approx(0.1 + 1.959964 * se))
    assert uplift(Rate(1, 10), Rate(0, 0)) is None
