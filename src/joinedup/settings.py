"""The one settings object. Nothing else in JoinedUp reads the environment.

Every value can be set by an environment variable prefixed ``JOINEDUP_`` (for example
``JOINEDUP_DATABASE_URL``) or passed in directly, as tests do.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The directory file shipped with JoinedUp: a synthetic ICS modelled on Cornwall and the Isles of Scilly.
DEFAULT_DIRECTORY = (
    Path(__file__).parent / "directory" / "data" / "cornwall-and-isles-of-scilly.yaml"
)

#: The access policy shipped with JoinedUp: roles, actions, sensitivity, break-glass.
DEFAULT_POLICY = Path(__file__).parent / "access" / "policy.yaml"
DEFAULT_INDICATOR_CATALOGUE = Path(__file__).parent / "oversight" / "catalogue.yaml"
#: The referral routing rules shipped with JoinedUp: time frames, weights, first choices.
DEFAULT_ROUTING_RULES = Path(__file__).parent / "referrals" / "routing.yaml"
#: The virtual wards shipped with JoinedUp: pathways, observations, thresholds, response times.
DEFAULT_VIRTUAL_WARDS = Path(__file__).parent / "virtual_wards" / "wards.yaml"


class Settings(BaseSettings):
    """Where JoinedUp keeps its data and how it is served."""

    model_config = SettingsConfigDict(env_prefix="JOINEDUP_", frozen=True)

    var_dir: Path = Field(
        default=Path("var"),
        description="Folder for the embedded databases and generated data.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the operational store; a SQLite file under var_dir if unset. "
        "PostgreSQL: postgresql+psycopg://user:password@host:port/database",
    )
    directory_file: Path = Field(
        default=DEFAULT_DIRECTORY,
        description="The ICS directory file (YAML): areas, partners, practices and services.",
    )
    host: str = Field(default="127.0.0.1", description="Address the web app listens on.")
    port: int = Field(default=8000, description="Port the web app listens on.")
    oidc_issuer: str | None = Field(
        default=None,
        description="The OpenID Connect provider's issuer (the tokens' `iss`), e.g. NHS CIS2's "
        "or the ICS's own. With the development provider on and this unset, its own issuer.",
    )
    oidc_audience: str = Field(
        default="joinedup",
        description="The audience (`aud`) tokens must be issued for: JoinedUp's client id.",
    )
    oidc_jwks_url: str | None = Field(
        default=None,
        description="Where to fetch the provider's signing keys (JWKS), usually its `jwks_uri`.",
    )
    oidc_jwks_file: Path | None = Field(
        default=None,
        description="A JWKS file to read the provider's signing keys from instead of a URL.",
    )
    role_claim: str = Field(
        default="joinedup_role",
        description="The token claim that holds the user's JoinedUp role (a role in the policy).",
    )
    organisation_claim: str = Field(
        default="joinedup_org",
        description="The token claim that holds the ODS code of the user's organisation.",
    )
    dev_idp: bool = Field(
        default=False,
        description="Run the built-in development identity provider with demo users "
        "(for the demo only; never in production).",
    )
    reference_dir: Path | None = Field(
        default=None,
        description="Folder of published reference data the lake reads: postcode-lookup.csv "
        "(postcode, small_area, imd_decile) and national-data-opt-outs.csv (nhs_number); the "
        "demo's synthetic ICS's if unset.",
    )
    indicator_catalogue: Path = Field(
        default=DEFAULT_INDICATOR_CATALOGUE,
        description="System oversight's indicator catalogue (YAML): definitions and targets.",
    )
    policy_file: Path = Field(
        default=DEFAULT_POLICY,
        description="The access policy file (YAML): roles, actions, sensitivity, break-glass.",
    )
    deliver_notifications: bool = Field(
        default=True,
        description="Deliver receiving teams' referral notifications from the web app (a "
        "background thread); off when another process runs `joinedup referrals deliver`.",
    )
    routing_rules: Path = Field(
        default=DEFAULT_ROUTING_RULES,
        description="The referral routing rules (YAML): urgencies' time frames, ranking weights "
        "and the ICS's first-choice service types.",
    )

    virtual_wards_file: Path = Field(
        default=DEFAULT_VIRTUAL_WARDS,
        description="The virtual wards (YAML): each ward's pathway, admission criteria, "
        "observations and how often, its own thresholds, and escalation response times.",
    )

    @cached_property
    def operational_url(self) -> str:
        """The operational store's URL: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'joinedup.sqlite').resolve()}"

    @property
    def analytics_path(self) -> Path:
        """The embedded DuckDB file for analytics."""
        return self.var_dir / "analytics.duckdb"

    @property
    def identity_model_path(self) -> Path:
        """The trained linkage model (Splink's parameters as JSON)."""
        return self.var_dir / "identity" / "linkage-model.json"

    @property
    def synthetic_dir(self) -> Path:
        """Where the demo writes its synthetic ICS (feeds and ground truth)."""
        return self.var_dir / "synthetic"

    @property
    def lake_dir(self) -> Path:
        """The analytical lake: pseudonymised Parquet tables."""
        return self.var_dir / "lake"

    @property
    def population_dir(self) -> Path:
        """Population health's outputs: person measures, the risk model, cohorts, needs."""
        return self.var_dir / "population"

    @property
    def oversight_dir(self) -> Path:
        """System oversight's data: indicators by month, the finance ledger, national A&E."""
        return self.var_dir / "oversight"

    @property
    def reference_path(self) -> Path:
        """Where the published reference data is: the configured folder, or the demo's."""
        return self.reference_dir or self.synthetic_dir / "published"
