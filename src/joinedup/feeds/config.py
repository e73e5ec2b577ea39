"""Which partner sends what: the feeds file that sits beside the directory file.

For ``cornwall-and-isles-of-scilly.yaml`` the feeds file is
``cornwall-and-isles-of-scilly.feeds.yaml``. Each entry names a partner feed, its format,
the file paths it arrives as (glob patterns relative to a drop folder, where ``{partner}``
stands for the sender's ODS code), and, for CSV extracts, how columns map to FHIR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from joinedup.feeds.model import MessageFormat


class FeedConfigError(ValueError):
    """The feeds file is wrong; the message names the entry."""


@dataclass(frozen=True)
class FeedSpec:
    """One partner feed: who sends it, in what format, arriving as which files."""

    feed: str
    format: MessageFormat
    paths: tuple[str, ...]
    partner: str | None = None  # None: taken from ``{partner}`` in the path
    mapping: dict[str, Any] = field(default_factory=dict)  # CSV column mapping

    def match(self, relative: PurePosixPath) -> str | None:
        """The partner ODS code if ``relative`` is one of this feed's files, else None."""
        for pattern in self.paths:
            regex = _pattern_regex(pattern)
            found = regex.fullmatch(relative.as_posix())
            if found:
                return found.groupdict().get("partner") or self.partner
        return None


@dataclass(frozen=True)
class FeedConfig:
    """Every partner feed the ICS takes in."""

    feeds: tuple[FeedSpec, ...]

    def find(self, relative: PurePosixPath) -> tuple[FeedSpec, str] | None:
        """The feed a file belongs to and its sender, by its path within the drop folder."""
        for spec in self.feeds:
            partner = spec.match(relative)
            if partner is not None:
                return spec, partner
        return None

    def spec(self, feed: str) -> FeedSpec:
        """The feed called ``feed`` (KeyError if none)."""
        for spec in self.feeds:
            if spec.feed == feed:
                return spec
        raise KeyError(feed)


def feeds_file_for(directory_file: Path) -> Path:
    """The feeds file beside a directory file (``x.yaml`` → ``x.feeds.yaml``)."""
    return directory_file.with_suffix(".feeds.yaml")


def load_feed_config(path: Path) -> FeedConfig:
    """Read and check a feeds file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise FeedConfigError(f"{path.name}: cannot read: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("feeds"), list):
        raise FeedConfigError(f"{path.name}: expected a mapping with a 'feeds' list")
    specs: list[FeedSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(data["feeds"]):
        where = f"{path.name}: feeds[{i}]"
        if not isinstance(entry, dict):
            raise FeedConfigError(f"{where}: expected a mapping")
        unknown = set(entry) - {"feed", "format", "paths", "partner", "mapping"}
        if unknown:
            raise FeedConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        name = entry.get("feed")
        if not isinstance(name, str) or not name:
            raise FeedConfigError(f"{where}: 'feed' (a name) is required")
        if name in seen:
            raise FeedConfigError(f"{where} ({name}): feed name used twice")
        seen.add(name)
        try:
            fmt = MessageFormat(str(entry.get("format")))
        except ValueError:
            allowed = ", ".join(f.value for f in MessageFormat)
            raise FeedConfigError(f"{where} ({name}): format must be one of {allowed}") from None
        paths = entry.get("paths")
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise FeedConfigError(f"{where} ({name}): 'paths' must be a list of glob patterns")
        partner = entry.get("partner")
        if partner is None and not all("{partner}" in p for p in paths):
            raise FeedConfigError(
                f"{where} ({name}): give 'partner' or put {{partner}} in every path"
            )
        mapping = entry.get("mapping") or {}
        if fmt is MessageFormat.CSV and not mapping:
            raise FeedConfigError(f"{where} ({name}): a CSV feed needs a column 'mapping'")
        specs.append(FeedSpec(name, fmt, tuple(paths), partner, mapping))
    return FeedConfig(tuple(specs))


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A glob (``*`` and ``?`` within one folder) as a regex; ``{partner}`` captures an ODS code."""
    head, sep, tail = pattern.partition("{partner}")
    if not sep:
        return re.compile(_glob(pattern))
    return re.compile(_glob(head) + r"(?P<partner>[A-Z0-9]{3,6})" + _glob(tail))


def _glob(part: str) -> str:
    return "".join(
        "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char) for char in part
    )
