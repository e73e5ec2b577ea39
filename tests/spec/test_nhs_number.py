"""NHS number Modulus 11 check, as DOMAIN.md states it from the NHS Data Dictionary.

NHS Data Dictionary, "NHS Number": multiply digits 1-9 by weights 10 down to 2, sum,
check digit = 11 - (sum mod 11); a result of 11 becomes 0; a result of 10 means the number
is invalid. 943 476 5919 is valid; 943 476 5918 is not. NHS England reserves 999 000 0000 -
999 999 9999 for test data.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from nhs_number import calculate_checksum, is_valid

from joinedup.synthetic.population import (
    is_valid_nhs_number,
    nhs_check_digit,
    nhs_numbers_for_indices,
)


def test_domain_examples() -> None:
    assert is_valid_nhs_number("9434765919")
    assert not is_valid_nhs_number("9434765918")


def test_check_digit_of_eleven_becomes_zero() -> None:
    # Stems whose weighted sum is a multiple of 11 give 11 - 0 = 11, written as 0.
    stems = [f"{s:09d}" for s in range(999_000_000, 999_000_200)]
    zero = [
        s
        for s in stems
        if sum(int(d) * w for d, w in zip(s, range(10, 1, -1), strict=True)) % 11 == 0
    ]
    assert zero
    assert all(nhs_check_digit(s) == 0 for s in zero)


def test_a_check_digit_of_ten_has_no_valid_number() -> None:
    stems = [f"{s:09d}" for s in range(999_000_000, 999_000_200)]
    ten = [
        s
        for s in stems
        if sum(int(d) * w for d, w in zip(s, range(10, 1, -1), strict=True)) % 11 == 1
    ]
    assert ten
    for stem in ten:
        assert nhs_check_digit(stem) is None
        assert not any(is_valid_nhs_number(stem + str(d)) for d in range(10))


@pytest.mark.parametrize("bad", ["", "943476591", "94347659190", "943476591X", "943 476 5919"])
def test_malformed_numbers_are_invalid(bad: str) -> None:
    assert not is_valid_nhs_number(bad)


def test_check_digit_agrees_with_the_nhs_number_package() -> None:
    # The package's is_valid also rejects Scottish CHI numbers that are not dates, so compare
    # the Modulus 11 check digit itself.
    rnd = random.Random(1)
    for _ in range(5000):
        stem = f"{rnd.randrange(10**8, 10**9):09d}"
        package = calculate_checksum(stem)  # returns 10 where no valid number exists
        assert nhs_check_digit(stem) == (None if package == 10 else package)


def test_generated_numbers_pass_the_package_too() -> None:
    for number in nhs_numbers_for_indices(np.arange(0, 5000, 7)):
        assert is_valid(number)
