"""Record linkage for the person index: exact NHS number first, then Splink.

The engine takes *source person records* (one per partner system's local identifier for
a person) and decides which of them are the same human being:

1. **Deterministic.** Records that share a valid NHS number are the same person, unless
   their names and dates of birth say strongly otherwise; then the pair goes to a human
   reviewer instead of being linked (a keying slip can put one person's number on
   another's record).
2. **Probabilistic.** Every other candidate pair, found by blocking rules, is scored by a
   Fellegi-Sunter model (Splink) on names, date of birth, sex, postcode and address,
   trained on the ICS's own records without labels. Pairs at or above
   ``auto_link_threshold`` are linked; pairs between ``review_threshold`` and that go to
   the review queue with the model's per-comparison match weights, so the reviewer can
   see why.
3. **Clusters.** Connected components of the links give each record a person key: the
   smallest ``unique_id`` in its cluster, so the same input always gives the same keys.

The linkage logic is written once against Splink's database API; the backend seam is
:func:`database_api`, which gives DuckDB (embedded, the default and the reference) or
Spark (a local session, or a cluster's). This module handles row-level personal data: it
never logs a row, and its errors carry counts, never values.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import numpy as np
import pandas as pd
from splink import Linker, SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl
from splink.internals.database_api import DatabaseAPI

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "Backend",
    "LinkageModel",
    "LinkageResult",
    "database_api",
    "link",
    "linkage_settings",
    "local_spark_session",
    "normalise",
    "train",
]

Backend = Literal["duckdb", "spark"]

#: The columns of a source person record, as the engine takes them.
SOURCE_COLUMNS = (
    "unique_id",
    "source",
    "nhs_number",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "postcode",
    "address_line",
)
#: Extra identifiers a feed may carry; compared when present.
OPTIONAL_COLUMNS = ("email",)

#: Comparisons whose evidence decides whether a shared NHS number is believable.
_NAME_AND_BIRTH_COMPARISONS = ("given_name", "family_name", "birth_date")

# Common English given-name variants (the nickname on the left, the formal name on the
# right). Social-care and community systems often hold the name a person goes by, the
# NHS spine the registered one; string similarity cannot see that BOB is ROBERT.
_NICKNAMES: tuple[tuple[str, str], ...] = (
    ("ABBY", "ABIGAIL"),
    ("AL", "ALAN"),
    ("ALEX", "ALEXANDER"),
    ("ANDY", "ANDREW"),
    ("BABS", "BARBARA"),
    ("BEN", "BENJAMIN"),
    ("BERT", "ALBERT"),
    ("BETH", "ELIZABETH"),
    ("BETTY", "ELIZABETH"),
    ("BILL", "WILLIAM"),
    ("BILLY", "WILLIAM"),
    ("BOB", "ROBERT"),
    ("BOBBY", "ROBERT"),
    ("CATHY", "CATHERINE"),
    ("CHARLIE", "CHARLES"),
    ("CHRIS", "CHRISTOPHER"),
    ("CHRISSIE", "CHRISTINE"),
    ("DAN", "DANIEL"),
    ("DANNY", "DANIEL"),
    ("DAVE", "DAVID"),
    ("DEBBIE", "DEBORAH"),
    ("DICK", "RICHARD"),
    ("ED", "EDWARD"),
    ("EDDIE", "EDWARD"),
    ("ELLIE", "ELEANOR"),
    ("FRED", "FREDERICK"),
    ("FREDDIE", "FREDERICK"),
    ("GEOFF", "GEOFFREY"),
    ("HARRY", "HENRY"),
    ("JACK", "JOHN"),
    ("JAMIE", "JAMES"),
    ("JEN", "JENNIFER"),
    ("JENNY", "JENNIFER"),
    ("JIM", "JAMES"),
    ("JIMMY", "JAMES"),
    ("JO", "JOANNE"),
    ("JOE", "JOSEPH"),
    ("JOHNNY", "JOHN"),
    ("KATE", "KATHERINE"),
    ("KATIE", "KATHERINE"),
    ("KATHY", "KATHERINE"),
    ("KEN", "KENNETH"),
    ("LIZ", "ELIZABETH"),
    ("LIZZIE", "ELIZABETH"),
    ("MAGGIE", "MARGARET"),
    ("MATT", "MATTHEW"),
    ("MEG", "MARGARET"),
    ("MICK", "MICHAEL"),
    ("MIKE", "MICHAEL"),
    ("NICK", "NICHOLAS"),
    ("PAT", "PATRICIA"),
    ("PEGGY", "MARGARET"),
    ("PETE", "PETER"),
    ("PHIL", "PHILIP"),
    ("RICK", "RICHARD"),
    ("ROB", "ROBERT"),
    ("RON", "RONALD"),
    ("SAM", "SAMUEL"),
    ("SANDY", "SANDRA"),
    ("STEVE", "STEPHEN"),
    ("SUE", "SUSAN"),
    ("SUZY", "SUSAN"),
    ("TED", "EDWARD"),
    ("TERRY", "TERENCE"),
    ("TOM", "THOMAS"),
    ("TOMMY", "THOMAS"),
    ("TONY", "ANTHONY"),
    ("VICKY", "VICTORIA"),
    ("WILL", "WILLIAM"),
)

_UK_POSTCODE = "^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"


# --------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------


def normalise(records: pd.DataFrame) -> pd.DataFrame:
    """Standardise source person records into the table the linkage model compares.

    ``records`` has the columns in :data:`SOURCE_COLUMNS` (missing ones are taken as
    empty) and optionally those in :data:`OPTIONAL_COLUMNS`. The result has one row per
    record with: names upper-cased without accents or punctuation, and the given name's
    usual formal form (``given_name_canonical``: BOB becomes ROBERT); the date of birth as
    an ISO string with its year, month and day; sex as ``F``/``M`` (anything else empty);
    the postcode as ``AA9A 9AA`` with its sector and district (a value that is not a UK
    postcode, such as a town, is kept cleaned, with no sector or district); the NHS number
    as ten digits, or empty when it fails the Modulus 11 check.

    Raises ``ValueError`` when ``unique_id`` is missing, empty or repeated.
    """
    if "unique_id" not in records.columns:
        raise ValueError("source records need a unique_id column")
    ids = records["unique_id"]
    if int(ids.isna().sum()):
        raise ValueError(f"{int(ids.isna().sum())} source records have no unique_id")
    repeated = int(ids.astype(str).duplicated().sum())
    if repeated:
        raise ValueError(f"{repeated} source records repeat another record's unique_id")

    present = [c for c in (*SOURCE_COLUMNS, *OPTIONAL_COLUMNS) if c in records.columns]
    frame = records[present]
    selects = {
        column: f"cast({column} as varchar)" if column in present else "cast(null as varchar)"
        for column in SOURCE_COLUMNS
    }
    nicknames = ", ".join(f"('{short}', '{formal}')" for short, formal in _NICKNAMES)
    email = (
        ", nullif(lower(trim(cast(email as varchar))), '') as email" if "email" in present else ""
    )
    sql = f"""
        with raw as (
            select
                {selects["unique_id"]} as unique_id,
                {selects["source"]} as source,
                nullif(regexp_replace({selects["nhs_number"]}, '[^0-9]', '', 'g'), '') as nhs,
                {_clean_name(selects["given_name"])} as given_name,
                {_clean_name(selects["family_name"])} as family_name,
                try_cast({selects["birth_date"]} as date) as dob,
                lower(trim({selects["sex"]})) as sex,
                regexp_replace(upper({selects["postcode"]}), '[^A-Z0-9]', '', 'g') as pc,
                {_clean_text(selects["postcode"])} as locality,
                {_clean_text(selects["address_line"])} as address_line
                {email}
            from frame
        ),
        nicknames(short, formal) as (values {nicknames})
        select
            raw.unique_id,
            raw.source,
            case when {_valid_nhs_number_sql("raw.nhs")} then raw.nhs end as nhs_number,
            raw.given_name,
            coalesce(nicknames.formal, split_part(raw.given_name, ' ', 1))
                as given_name_canonical,
            raw.family_name,
            strftime(raw.dob, '%Y-%m-%d') as birth_date,
            strftime(raw.dob, '%Y') as birth_year,
            strftime(raw.dob, '%m') as birth_month,
            strftime(raw.dob, '%d') as birth_day,
            case
                when raw.sex in ('female', 'f') then 'F'
                when raw.sex in ('male', 'm') then 'M'
            end as sex,
            case
                when regexp_matches(raw.pc, '{_UK_POSTCODE}')
                    then left(raw.pc, length(raw.pc) - 3) || ' ' || right(raw.pc, 3)
                else raw.locality
            end as postcode,
            case
                when regexp_matches(raw.pc, '{_UK_POSTCODE}')
                    then left(raw.pc, length(raw.pc) - 3) || ' ' || left(right(raw.pc, 3), 1)
            end as postcode_sector,
            case
                when regexp_matches(raw.pc, '{_UK_POSTCODE}')
                    then left(raw.pc, length(raw.pc) - 3)
            end as postcode_district,
            raw.address_line
            {", raw.email" if email else ""}
        from raw
        left join nicknames on nicknames.short = split_part(raw.given_name, ' ', 1)
        order by raw.unique_id
    """
    with duckdb.connect() as con:
        con.register("frame", frame)
        result: pd.DataFrame = con.sql(sql).df()
    return result


def _clean_name(column: str) -> str:
    # Hyphens and apostrophes are spelt inconsistently across systems (SMITH-JONES,
    # SMITH JONES; O'BRIEN, OBRIEN): hyphens become spaces, other punctuation goes.
    upper = f"upper(strip_accents({column}))"
    letters = f"regexp_replace(regexp_replace({upper}, '-', ' ', 'g'), '[^A-Z ]', '', 'g')"
    return f"nullif(trim(regexp_replace({letters}, ' +', ' ', 'g')), '')"


def _clean_text(column: str) -> str:
    upper = f"upper(strip_accents({column}))"
    kept = f"regexp_replace({upper}, '[^A-Z0-9 ]', ' ', 'g')"
    return f"nullif(trim(regexp_replace({kept}, ' +', ' ', 'g')), '')"


def _valid_nhs_number_sql(digits: str) -> str:
    # Modulus 11 (NHS Data Dictionary): weights 10..2 on digits 1-9; the check digit is
    # 11 - (sum mod 11), 11 meaning 0 and 10 meaning the number is invalid. A number of
    # one repeated digit passes the check but is a dummy value systems enter, not a person's number.
    weighted = " + ".join(
        f"cast(substr({digits}, {i}, 1) as integer) * {11 - i}" for i in range(1, 10)
    )
    check = f"(11 - (({weighted}) % 11)) % 11"
    return (
        f"regexp_matches({digits}, '^[0-9]{{10}}$') "
        f"and {digits} <> repeat(substr({digits}, 1, 1), 10) "
        f"and {check} = cast(substr({digits}, 10, 1) as integer)"
    )


def _populated_columns(table: pd.DataFrame) -> frozenset[str]:
    """The columns with at least one value: only those can be compared and trained."""
    return frozenset(str(c) for c in table.columns if table[c].notna().any())


# --------------------------------------------------------------------------------------
# The model's settings
# --------------------------------------------------------------------------------------


def linkage_settings(columns: Collection[str]) -> SettingsCreator:
    """Splink settings comparing whichever of the normalised columns are in ``columns``.

    Names and date of birth are required; sex, postcode, address, email and NHS number
    are compared when present. The blocking rules (which pairs are scored at all) are
    chosen from the same columns; see ``docs/identity.md`` for the reasons behind each.
    """
    available = set(columns)
    required = {"given_name", "family_name", "birth_date"}
    if not required <= available:
        raise ValueError(f"linkage needs the columns {sorted(required - available)}")

    comparisons: list[Any] = [
        _given_name_comparison(),
        _family_name_comparison(),
        _birth_date_comparison(),
    ]
    if "sex" in available:
        comparisons.append(cl.ExactMatch("sex"))
    if "postcode" in available or "address_line" in available:
        comparisons.append(_residence_comparison(available))
    if "email" in available:
        comparisons.append(cl.EmailComparison("email"))
    if "nhs_number" in available:
        # Pairs sharing a number are settled by the deterministic step; what the model
        # learns here is how strongly two *different* valid numbers argue against a match.
        comparisons.append(cl.ExactMatch("nhs_number"))

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=_blocking_rules(available),
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=["source", "nhs_number"],
        max_iterations=25,
        em_convergence=0.0001,
    )


def _given_name_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="given_name",
        comparison_levels=[
            cll.NullLevel("given_name"),
            cll.ExactMatchLevel("given_name", term_frequency_adjustments=True),
            # Given and family names keyed into each other's boxes.
            cll.CustomLevel(
                "given_name_l = family_name_r or family_name_l = given_name_r",
                label_for_charts="Given name matches the other's family name",
            ),
            cll.ExactMatchLevel("given_name_canonical").configure(
                label_for_charts="Same formal name (BOB and ROBERT) or first given name"
            ),
            cll.JaroWinklerLevel("given_name", 0.92),
            cll.JaroWinklerLevel("given_name", 0.8),
            cll.ElseLevel(),
        ],
    )


def _family_name_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="family_name",
        comparison_levels=[
            cll.NullLevel("family_name"),
            cll.ExactMatchLevel("family_name", term_frequency_adjustments=True),
            cll.CustomLevel(
                "family_name_l = given_name_r or given_name_l = family_name_r",
                label_for_charts="Family name matches the other's given name",
            ),
            cll.JaroWinklerLevel("family_name", 0.92),
            cll.JaroWinklerLevel("family_name", 0.8),
            cll.ElseLevel(),
        ],
    )


def _birth_date_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            # Day and month swapped (US order, or a keying slip): 1980-03-07 / 1980-07-03.
            cll.CustomLevel(
                "birth_year_l = birth_year_r and birth_month_l = birth_day_r "
                "and birth_day_l = birth_month_r",
                label_for_charts="Day and month transposed",
            ),
            cll.LevenshteinLevel("birth_date", 1).configure(
                label_for_charts="One character different"
            ),
            cll.AbsoluteDateDifferenceLevel(
                "birth_date", input_is_string=True, threshold=1, metric="month"
            ),
            cll.AbsoluteDateDifferenceLevel(
                "birth_date", input_is_string=True, threshold=1, metric="year"
            ),
            cll.ElseLevel(),
        ],
    )


def _residence_comparison(available: set[str]) -> cl.CustomComparison:
    """Where the person lives: postcode and address line as one comparison.

    People in one household share both, so scoring them as two independent comparisons
    would count the same evidence twice and link spouses, parents and children.
    """
    postcode = "postcode" in available
    address = "address_line" in available
    # Sector and district are derived in normalise() and empty for anything that is not
    # a UK postcode (a town in the postcode column, say); without any UK postcodes those
    # levels could never be trained, so they are left out.
    uk_postcodes = "postcode_sector" in available
    nulls = [
        cll.NullLevel(c)
        for c, present in (("postcode", postcode), ("address_line", address))
        if present
    ]
    levels: list[Any] = [cll.And(*nulls) if len(nulls) > 1 else nulls[0]]
    if postcode and address:
        levels += [
            cll.And(cll.ExactMatchLevel("postcode"), cll.ExactMatchLevel("address_line")).configure(
                label_for_charts="Same postcode and address line"
            ),
            cll.And(
                cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("address_line", 0.9)
            ).configure(label_for_charts="Same postcode, similar address line"),
        ]
    if postcode:
        levels.append(
            cll.ExactMatchLevel("postcode", term_frequency_adjustments=True).configure(
                label_for_charts="Same postcode"
            )
        )
    if address:
        levels.append(
            cll.ExactMatchLevel("address_line").configure(label_for_charts="Same address line")
        )
    if uk_postcodes:
        levels += [
            cll.ExactMatchLevel("postcode_sector").configure(label_for_charts="Same sector"),
            cll.ExactMatchLevel("postcode_district").configure(label_for_charts="Same district"),
        ]
    if postcode:
        levels.append(cll.JaroWinklerLevel("postcode", 0.88))
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(output_column_name="residence", comparison_levels=levels)


def _blocking_rules(available: set[str]) -> list[Any]:
    # Each rule tolerates a different kind of error; a true pair need only survive one.
    # Every rule joins on equality, so DuckDB and Spark run them as hash joins, and each
    # keeps its blocks small at ICS scale: no rule on names alone, as a small pool of
    # common names (DAVID SMITH) makes blocks of thousands.
    rules: list[Any] = [
        # Date of birth wrong within the year, nickname, moved house.
        block_on("given_name_canonical", "family_name", "birth_year"),
        block_on("family_name", "birth_date"),  # given name misspelt
        block_on("given_name_canonical", "birth_date"),  # family name changed or misspelt
        # Day and month transposed (with a nickname or a new address besides).
        "l.family_name = r.family_name and l.birth_year = r.birth_year "
        "and l.birth_month = r.birth_day and l.birth_day = r.birth_month",
        # Given and family names swapped between the two fields.
        "l.given_name = r.family_name and l.family_name = r.given_name",
    ]
    if "postcode" in available:
        # Both names misspelt, but the same home and year of birth.
        rules.append(block_on("postcode", "birth_year"))
    if "postcode_district" in available:
        rules.append(block_on("postcode_district", "birth_date"))
    if "address_line" in available:
        rules.append(block_on("address_line", "birth_year"))
    if "email" in available:
        rules.append(block_on("email"))
    return rules


# --------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------


def local_spark_session(*, cores: int = 2) -> SparkSession:
    """A local Spark session (``local[cores]``) set up for Splink: UI off, on loopback.

    Reuses a running session if there is one. The caller stops it when done.
    """
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    # Spark's launcher reads this to choose the address it binds to; keep it on loopback
    # (a laptop or CI box may have no routable hostname).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder: Any = SparkSession.builder
    session: SparkSession = (
        builder.master(f"local[{cores}]")
        .appName("joinedup-identity")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.jars", similarity_jar_location())
        .config("spark.ui.showConsoleProgress", "false")
        # Splink's scoring is one wide CASE expression per comparison; whole-stage code
        # generation outgrows the JVM's 64 KB method limit on it, fails noisily and falls
        # back anyway, so go straight to the interpreted path.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.default.parallelism", str(cores * 2))
        .getOrCreate()
    )
    return session


def database_api(backend: Backend = "duckdb", *, connection: Any = None) -> DatabaseAPI[Any]:
    """Splink's database API for ``backend``: the only place the engines differ.

    DuckDB: ``connection`` is ``":memory:"`` (the default), a database file path or a
    ``duckdb`` connection. Spark: ``connection`` is a ``SparkSession``; without one, a
    local session from :func:`local_spark_session`.
    """
    if backend == "duckdb":
        from splink.backends.duckdb import DuckDBAPI

        return DuckDBAPI(connection if connection is not None else ":memory:")
    if backend == "spark":
        from splink.backends.spark import SparkAPI

        session = connection if connection is not None else local_spark_session()
        # Persisting in memory breaks Spark's lineage without needing a checkpoint folder.
        return SparkAPI(spark_session=session, break_lineage_method="persist")  # type: ignore[no-untyped-call]
    raise ValueError(f"unknown linkage backend {backend!r}: use 'duckdb' or 'spark'")


@contextmanager
def _registered(
    table: pd.DataFrame, backend: Backend, connection: Any
) -> Iterator[tuple[DatabaseAPI[Any], Any]]:
    """The records registered with a fresh database API; Splink's tables dropped after."""
    api = database_api(backend, connection=connection)
    try:
        yield api, api.register(_for_backend(table, api))
    finally:
        api.delete_tables_created_by_splink_from_db()  # type: ignore[no-untyped-call]


def _for_backend(table: pd.DataFrame, api: DatabaseAPI[Any]) -> Any:
    """The normalised table in a form ``api`` can register with every column's type known.

    Every normalised column is text. Spark cannot infer a type for a column that is empty
    throughout (a feed without NHS numbers), so it is given the schema explicitly.
    """
    if api.sql_dialect.sql_dialect_str != "spark":
        return table
    import pyarrow as pa

    schema = pa.schema([(str(column), pa.string()) for column in table.columns])
    arrow = pa.Table.from_pandas(table.astype(object), schema=schema, preserve_index=False)
    return api.spark.createDataFrame(arrow)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


_MODEL_FORMAT = "joinedup.identity.linkage/1"
_TRAINED_LEVEL_KEYS = ("m_probability", "u_probability", "tf_minimum_u_value")


@dataclass(frozen=True)
class LinkageModel:
    """A trained linkage model: Splink's saved settings, with every m and u probability.

    ``columns`` are the normalised columns the model was built from. Splink writes its
    comparisons as SQL in the dialect of the backend that trained them; to run the model
    on another backend the settings are rebuilt from ``columns`` in that dialect and the
    trained parameters carried across level by level (:meth:`splink_settings_for`).
    Held as JSON text so the model is immutable and can be stored and versioned.
    """

    columns: tuple[str, ...]
    splink_settings_json: str

    @property
    def splink_settings(self) -> dict[str, Any]:
        """A fresh copy of Splink's settings as trained (in the training backend's SQL)."""
        settings: dict[str, Any] = json.loads(self.splink_settings_json)
        return settings

    @property
    def comparison_names(self) -> tuple[str, ...]:
        """The output column name of each comparison, in order."""
        return tuple(c["output_column_name"] for c in self.splink_settings["comparisons"])

    def splink_settings_for(self, sql_dialect: str) -> dict[str, Any]:
        """Splink's settings in ``sql_dialect`` (``"duckdb"`` or ``"spark"``)."""
        trained = self.splink_settings
        if trained.get("sql_dialect") == sql_dialect:
            return trained
        rebuilt: dict[str, Any] = linkage_settings(self.columns).create_settings_dict(sql_dialect)
        if len(rebuilt["comparisons"]) != len(trained["comparisons"]):
            raise ValueError("the model's comparisons differ from this version's settings")
        for new, old in zip(rebuilt["comparisons"], trained["comparisons"], strict=True):
            new_levels, old_levels = new["comparison_levels"], old["comparison_levels"]
            labels_new = [level.get("label_for_charts") for level in new_levels]
            labels_old = [level.get("label_for_charts") for level in old_levels]
            if labels_new != labels_old:
                raise ValueError(
                    f"the model's {old['output_column_name']} levels differ from this "
                    "version's settings"
                )
            for new_level, old_level in zip(new_levels, old_levels, strict=True):
                for key in _TRAINED_LEVEL_KEYS:
                    if key in old_level:
                        new_level[key] = old_level[key]
        rebuilt["probability_two_random_records_match"] = trained[
            "probability_two_random_records_match"
        ]
        return rebuilt

    def to_json(self) -> str:
        """The model as JSON: its columns and Splink's own saved settings."""
        return json.dumps(
            {
                "format": _MODEL_FORMAT,
                "columns": list(self.columns),
                "splink": self.splink_settings,
            },
            sort_keys=True,
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> LinkageModel:
        """A model from :meth:`to_json`'s output."""
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("format") != _MODEL_FORMAT:
            raise ValueError(f"not a linkage model: expected format {_MODEL_FORMAT}")
        return cls(
            columns=tuple(document["columns"]),
            splink_settings_json=json.dumps(document["splink"], sort_keys=True),
        )


def _em_training_rules(columns: Collection[str]) -> list[Any]:
    """Blocks of pairs to run expectation maximisation on, two so every m is estimated.

    EM learns best from blocks that are mostly true matches. A shared NHS number is
    nearly always one (it estimates everything but the NHS number); the same names and
    date of birth then estimate the NHS number, sex and residence. Without NHS numbers,
    the same names estimate date of birth and the rest, the same date of birth the names.
    """
    if "nhs_number" in columns:
        return [block_on("nhs_number"), block_on("given_name", "family_name", "birth_date")]
    return [block_on("given_name", "family_name"), block_on("birth_date")]


def train(
    records: pd.DataFrame,
    *,
    backend: Backend = "duckdb",
    connection: Any = None,
    seed: int = 42,
    max_pairs_for_u: float = 2e6,
    max_pairs_for_em: float | None = 2e6,
    deterministic_recall: float | None = None,
) -> LinkageModel:
    """Train a linkage model on ``records`` without labels.

    The prior (the probability that two random records match) comes from deterministic
    rules; the u probabilities (how often non-matches agree by chance) from a random
    sample of pairs, seeded by ``seed``; the m probabilities (how often true matches
    agree) by expectation maximisation over two blocks of likely matches (see
    :func:`_em_training_rules`). ``deterministic_recall`` is the share of true matches the
    deterministic rules are taken to find: 0.9 when NHS numbers are present, else 0.7.
    The same records and seed give the same model (up to the last bits of DuckDB's
    parallel sums).
    """
    table = normalise(records)
    columns = _populated_columns(table)
    settings = linkage_settings(columns)
    has_nhs = "nhs_number" in columns
    deterministic_rules: list[Any] = [block_on("given_name", "family_name", "birth_date")]
    if has_nhs:
        deterministic_rules.insert(0, block_on("nhs_number"))
    if "email" in columns:
        deterministic_rules.append(block_on("email"))
    recall = deterministic_recall if deterministic_recall is not None else (0.9 if has_nhs else 0.7)

    with _registered(table, backend, connection) as (_, frame):
        linker = Linker(frame, settings, log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            deterministic_rules, recall=recall
        )
        linker.training.estimate_u_using_random_sampling(
            max_pairs=max_pairs_for_u, seed=seed, min_count_per_level=None
        )
        for rule in _em_training_rules(columns):
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True, max_pairs=max_pairs_for_em
            )
        saved = linker.misc.save_model_to_json()
    # Splink stamps each linker with a random id; without it the same records and seed
    # give byte-identical models.
    saved.pop("linker_uid", None)
    _fill_unseen_levels(saved, unseen_u=1.0 / max_pairs_for_u)
    return LinkageModel(
        columns=tuple(sorted(columns)), splink_settings_json=json.dumps(saved, sort_keys=True)
    )


#: The m probability given to a level no true match fell into during training.
_UNSEEN_M_PROBABILITY = 1e-3


def _fill_unseen_levels(settings: dict[str, Any], *, unseen_u: float) -> None:
    """Give levels never seen in training a small probability instead of none.

    Splink leaves such a level untrained and scores it as no evidence either way. On a
    clean ICS no true match had two wholly different dates of birth, so that level would
    weigh nothing, exactly where it should weigh most against a match. Rare, not
    impossible: the level gets a small m (or u), taken from the others' share.
    """
    for comparison in settings["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        for key, floor in (("m_probability", _UNSEEN_M_PROBABILITY), ("u_probability", unseen_u)):
            unseen = [lvl for lvl in levels if lvl.get(key) is None]
            if not unseen or len(unseen) == len(levels):
                continue
            scale = 1.0 - floor * len(unseen)
            for lvl in levels:
                lvl[key] = floor if lvl.get(key) is None else lvl[key] * scale


# --------------------------------------------------------------------------------------
# Linking
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkageResult:
    """What linkage decided.

    ``persons``: one row per source record: ``unique_id``, ``source``, ``person_key``.
    ``links``: the pairs joined: ``unique_id_l``, ``unique_id_r``, ``method``
    (``nhs_number`` or ``probabilistic``), ``match_probability``, ``match_weight``.
    ``review``: pairs for a human to decide, with ``reason``:

    - ``probable_match``: a probability between the thresholds;
    - ``nhs_number_conflict``: a shared NHS number that names and date of birth contradict;
    - ``different_nhs_numbers``: two different valid NHS numbers, however alike otherwise;
    - ``given_names_differ``: all else alike but the given names (twins look like this);

    with the two records' current person keys and the model's match weight for each
    comparison (``mw_<comparison>``, and ``mw_tf_adj_<comparison>`` for the adjustment for
    how common the agreeing value is), which add up, with the prior, to ``match_weight``.
    """

    persons: pd.DataFrame
    links: pd.DataFrame
    review: pd.DataFrame

    def person_keys(self) -> dict[str, str]:
        """Each record's ``unique_id`` mapped to its person key."""
        return dict(zip(self.persons["unique_id"], self.persons["person_key"], strict=True))


def link(
    records: pd.DataFrame,
    model: LinkageModel,
    *,
    backend: Backend = "duckdb",
    connection: Any = None,
    auto_link_threshold: float = 0.99,
    review_threshold: float = 0.8,
    nhs_conflict_weight: float = -2.0,
) -> LinkageResult:
    """Link ``records`` into persons with ``model``.

    Two records sharing a valid NHS number are linked unless the model's match weight
    from names and date of birth alone is below ``nhs_conflict_weight``; then they are
    returned for review instead. Other pairs at or above ``auto_link_threshold`` (a match
    probability) are linked, unless their NHS numbers differ or their given names disagree
    outright; those, and pairs from ``review_threshold`` up to the threshold, are returned
    for review. ``backend`` and ``connection`` are as for :func:`database_api`.
    """
    if not 0.0 < review_threshold <= auto_link_threshold <= 1.0:
        raise ValueError("thresholds must satisfy 0 < review_threshold <= auto_link_threshold <= 1")
    table = normalise(records)

    with _registered(table, backend, connection) as (api, frame):
        settings = model.splink_settings_for(api.sql_dialect.sql_dialect_str)
        nhs_settings = {
            **settings,
            "blocking_rules_to_generate_predictions": ["l.nhs_number = r.nhs_number"],
        }
        # Deterministic step: every pair sharing a valid NHS number, scored so that a
        # contradicted number can be caught and explained.
        nhs_linker = Linker(frame, nhs_settings, log_level=None)
        shared = nhs_linker.inference.predict(warning_mode="never")
        columns = _column_names(nhs_linker, shared.physical_name)
        name_and_birth = " + ".join(
            f"coalesce({column}, 0)"
            for name in _NAME_AND_BIRTH_COMPARISONS
            for column in (f"mw_{name}", f"mw_tf_adj_{name}")
            if column in columns
        )
        agrees = f"({name_and_birth}) >= {nhs_conflict_weight!r}"
        nhs_links = _query(
            nhs_linker,
            f"select unique_id_l, unique_id_r, 'nhs_number' as method, match_probability, "
            f"match_weight from {shared.physical_name} where {agrees}",
        )
        conflicts = _query(
            nhs_linker,
            f"select *, 'nhs_number_conflict' as reason from {shared.physical_name} "
            f"where not {agrees}",
        )
        # The two steps block differently: start the second with Splink's cache empty.
        nhs_linker.table_management.invalidate_cache()  # type: ignore[no-untyped-call]

        # Probabilistic step. Pairs sharing a number were settled above; the others are
        # linked at or above the threshold unless a reason holds them back for a person.
        linker = Linker(frame, settings, log_level=None)
        scored = linker.inference.predict(
            threshold_match_probability=review_threshold, warning_mode="never"
        )
        reason = (
            _HOLD_BACK_SQL
            if "gamma_given_name" in _column_names(linker, scored.physical_name)
            else _HOLD_BACK_SQL.replace("when gamma_given_name = 0", "when false")
        )
        not_same_number = (
            "(nhs_number_l is null or nhs_number_r is null or nhs_number_l <> nhs_number_r)"
        )
        automatic = (
            f"match_probability >= {auto_link_threshold!r} and ({reason}) = 'probable_match'"
        )
        probabilistic_links = _query(
            linker,
            f"select unique_id_l, unique_id_r, 'probabilistic' as method, match_probability, "
            f"match_weight from {scored.physical_name} where {not_same_number} and {automatic}",
        )
        held = _query(
            linker,
            f"select *, {reason} as reason from {scored.physical_name} "
            f"where {not_same_number} and not ({automatic})",
        )

    link_columns = ["unique_id_l", "unique_id_r", "method", "match_probability", "match_weight"]
    links = _with_ordered_pair(
        pd.concat([nhs_links, probabilistic_links], ignore_index=True)[link_columns]
    ).sort_values(["unique_id_l", "unique_id_r"], ignore_index=True)

    persons = table[["unique_id", "source"]].copy()
    persons["person_key"] = _cluster_keys(persons["unique_id"], links)
    key_of = dict(zip(persons["unique_id"], persons["person_key"], strict=True))

    review = _with_ordered_pair(pd.concat([conflicts, held], ignore_index=True))
    review["person_key_l"] = review["unique_id_l"].map(key_of)
    review["person_key_r"] = review["unique_id_r"].map(key_of)
    # A pair already joined through other links needs no decision.
    settled = (review["reason"] != "nhs_number_conflict") & (
        review["person_key_l"] == review["person_key_r"]
    )
    review = review[~settled]
    explanation = [c for c in review.columns if c.startswith("mw_")]
    review_columns = [
        "unique_id_l",
        "unique_id_r",
        "reason",
        "match_probability",
        "match_weight",
        "person_key_l",
        "person_key_r",
        *explanation,
    ]
    review = review[review_columns].sort_values(
        ["match_probability", "unique_id_l", "unique_id_r"],
        ascending=[False, True, True],
        ignore_index=True,
    )
    return LinkageResult(persons=persons.reset_index(drop=True), links=links, review=review)


# Why a scored pair goes to a person whatever its probability. ``different_nhs_numbers``:
# two valid numbers that differ are two people, or a duplicate registration only the
# national spine can confirm. ``given_names_differ``: twins share a family name, date of
# birth and home, so the model's evidence for them is strong; a pair whose given names
# disagree outright (the given-name comparison's last level, 0) is never linked unseen.
_HOLD_BACK_SQL = (
    "case "
    "when nhs_number_l is not null and nhs_number_r is not null "
    "and nhs_number_l <> nhs_number_r then 'different_nhs_numbers' "
    "when gamma_given_name = 0 then 'given_names_differ' "
    "else 'probable_match' end"
)


def _query(linker: Linker, sql: str) -> pd.DataFrame:
    """Run ``sql`` on the linker's backend and bring the (small) result into pandas."""
    frame: pd.DataFrame = linker.misc.query_sql(sql, output_type="pandas")  # type: ignore[no-untyped-call]
    return frame


def _column_names(linker: Linker, table: str) -> list[str]:
    return [str(c) for c in _query(linker, f"select * from {table} limit 0").columns]


def _with_ordered_pair(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs with ``unique_id_l < unique_id_r`` by string order, on any backend."""
    pairs = pairs.copy()
    swap = pairs["unique_id_l"].astype(str) > pairs["unique_id_r"].astype(str)
    for column in [c for c in pairs.columns if c.endswith("_l")]:
        other = column[:-2] + "_r"
        if other in pairs.columns:
            left = pairs[column].copy()
            pairs.loc[swap, column] = pairs.loc[swap, other]
            pairs.loc[swap, other] = left[swap]
    return pairs


def _cluster_keys(unique_ids: pd.Series, links: pd.DataFrame) -> np.ndarray[Any, Any]:
    """Connected components of ``links``, each labelled by its smallest ``unique_id``.

    Each record is labelled by its rank in unique_id order; every pass pulls the roots
    at both ends of each link to the smaller, then jumps pointers until each label is a
    root, until no link joins two labels. Vectorised with numpy: a few passes for the
    small, shallow clusters of a person index.
    """
    ids = unique_ids.astype(str).to_numpy()
    order = np.argsort(ids, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))  # rank 0 is the smallest unique_id
    position = pd.Series(rank, index=ids)
    left = position.loc[links["unique_id_l"].astype(str)].to_numpy(dtype=np.int64)
    right = position.loc[links["unique_id_r"].astype(str)].to_numpy(dtype=np.int64)

    label = np.arange(len(ids), dtype=np.int64)  # label by rank
    while True:
        # Each edge pulls both ends to the smaller root; then compress paths.
        root_l, root_r = label[left], label[right]
        low = np.minimum(root_l, root_r)
        np.minimum.at(label, root_l, low)
        np.minimum.at(label, root_r, low)
        while True:
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
        if np.array_equal(label[left], label[right]):
            break
    smallest_rank = label[rank]
    keys: np.ndarray[Any, Any] = ids[order][smallest_rank]
    return keys
