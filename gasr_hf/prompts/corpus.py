"""The corpus of a domain: styles, components, the base description and the domain template."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gasr_hf.config import from_dict, load_yaml, save_yaml, to_dict

TEMPLATE_FIELDS = frozenset({"style", "component_1", "component_2"})
PAPER_BASE_DESCRIPTION = (
    "An ultra detailed, high-contrast image with sharp edges and dense information."
)
PAPER_TEMPLATE = (
    "Featuring {component_1} and {component_2} in a {style} composition. "
    "Intricate elements, layered textures, dynamic typography, and rich contrast."
)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Corpus:
    """Styles x components for one domain; ``id`` (``name@version``) is recorded with every prompt."""

    name: str
    domain: str
    version: str
    base_description: str
    template: str
    styles: tuple[str, ...]
    components: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def num_combinations(self) -> int:
        """Unique prompts: every style with every unordered pair of distinct components."""
        n = len(self.components)
        return len(self.styles) * (n * (n - 1) // 2)

    def domain_description(self, style: str, component_1: str, component_2: str) -> str:
        return self.template.format(style=style, component_1=component_1, component_2=component_2)

    def validate(self, source: str = "corpus") -> Corpus:
        """Raise ``ValueError`` naming ``source`` and the offending value when the corpus is unusable."""
        if not _NAME_RE.match(self.name):
            raise ValueError(
                f"{source}: name {self.name!r} must be lowercase letters, digits, '-' or '_'"
            )
        for key in ("domain", "version", "base_description", "template"):
            if not getattr(self, key).strip():
                raise ValueError(f"{source}: {key} is empty")
        _check_template(self.template, source)
        _check_items(self.styles, "styles", 1, source)
        _check_items(self.components, "components", 2, source)
        return self

    def save(self, path: str | Path) -> Path:
        return save_yaml(to_dict(self), path)


def _check_template(template: str, source: str) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as err:
        raise ValueError(f"{source}: template is not a valid format string: {err}") from err
    unknown = sorted(set(fields) - TEMPLATE_FIELDS)
    if unknown:
        raise ValueError(
            f"{source}: template has unknown field {{{unknown[0]}}}; "
            f"allowed: {', '.join('{' + f + '}' for f in sorted(TEMPLATE_FIELDS))}"
        )
    missing = sorted(TEMPLATE_FIELDS - set(fields))
    if missing:
        raise ValueError(f"{source}: template is missing the field {{{missing[0]}}}")


def normalize_item(text: str) -> str:
    """The canonical spelling used to detect duplicates: case-folded, single spaces."""
    return " ".join(text.split()).casefold()


def _check_items(items: tuple[str, ...], key: str, minimum: int, source: str) -> None:
    if len(items) < minimum:
        raise ValueError(f"{source}: {key} needs at least {minimum} item(s), found {len(items)}")
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if not item.strip():
            raise ValueError(f"{source}: {key}[{i}] is empty")
        if item != " ".join(item.split()):
            raise ValueError(
                f"{source}: {key}[{i}] {item!r} has leading, trailing or double spaces"
            )
        norm = normalize_item(item)
        if norm in seen:
            raise ValueError(
                f"{source}: duplicate item in {key}: {item!r} (index {i}) repeats "
                f"{items[seen[norm]]!r} (index {seen[norm]})"
            )
        seen[norm] = i


def shipped_corpora() -> list[str]:
    """Names of the corpora that ship with the package."""
    folder = resources.files("gasr_hf.prompts") / "corpora"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_corpus(name_or_path: str | Path) -> Corpus:
    """Load a shipped corpus by name (``"artwork"``) or a user's YAML file, validated."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return corpus_from_dict(load_yaml(candidate), source=str(candidate))
    name = str(name_or_path)
    shipped = shipped_corpora()
    if name not in shipped:
        raise ValueError(
            f"unknown corpus {name!r}: not a file, and not a shipped corpus ({', '.join(shipped)})"
        )
    with resources.as_file(resources.files("gasr_hf.prompts") / "corpora" / f"{name}.yaml") as p:
        return corpus_from_dict(load_yaml(p), source=f"{name} (shipped corpus {p})")


def corpus_from_dict(data: dict, source: str = "corpus") -> Corpus:
    return from_dict(Corpus, data, source=source).validate(source)
