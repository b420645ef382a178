"""Push a verified dataset repository to the Hugging Face Hub and tag the release ``vX.Y.Z``.

The upload is ``HfApi.upload_folder``: with ``hf_xet`` installed (a huggingface_hub dependency) it
streams the folder in several commits and a rerun resumes, skipping files already committed; in
huggingface_hub 2 it replaces ``upload_large_folder``. Remote shards and figures that are not part
of the local release are deleted in the same upload, so the tag never points at stale shards.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPO_TYPE = "dataset"
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
IGNORE_PATTERNS = [".*", "*/.*"]
"""Hidden paths (``.gasr/`` resume state, caches) stay local."""
DELETE_PATTERNS = ["data/*", "figures/*"]


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    tag: str
    commit: str
    """The commit the tag points at (the upload's last commit)."""
    url: str


def _validate_card(card: Any, repo_dir: Path, repo_id: str) -> None:
    """The Hub's YAML validation of the card; failures, and a Hub that cannot be reached, become
    ValueErrors naming the card and the repository (nothing has been sent yet)."""
    from gasr_hf.publish.card import README

    try:
        card.validate(repo_type=REPO_TYPE)
    except ValueError as err:
        raise ValueError(
            f"{repo_dir / README} fails the Hub's dataset card validation: {err}"
        ) from err
    # Besides OSError (offline mode, HTTP status errors), the HTTP client huggingface_hub uses
    # raises its own exception types for network failures; all mean "the Hub was not reached".
    except Exception as err:
        raise ValueError(
            f"cannot push {repo_dir} to {repo_id}: validating {README} needs the Hugging Face "
            f"Hub, which did not answer ({type(err).__name__}: {err}); nothing was pushed"
        ) from err


def push_repo(
    repo_dir: str | Path,
    repo_id: str,
    version: str,
    *,
    api: Any = None,
    private: bool = False,
    token: str | None = None,
) -> PushResult:
    """Upload the dataset repository ``repo_dir`` to the Hub dataset ``repo_id`` as ``version``.

    Before anything is sent: ``version`` must be ``X.Y.Z`` and equal the manifest's and the card's,
    ``verify_repo`` must find nothing (then the card's quick start is pointed at ``repo_id`` and
    the manifest follows), the card must pass the Hub's YAML validation
    (``DatasetCard.validate``: online, so without the Hub this is a ValueError), and the tag
    ``v{version}`` must not exist yet. Then the repository is created (if needed), uploaded and
    tagged. ``api`` is an ``HfApi`` (one is made from ``token`` when omitted).
    """
    from gasr_hf.publish.card import (
        README,
        card_version,
        check_version,
        read_card,
        real_configs,
        set_repo_id,
    )
    from gasr_hf.publish.manifest import read_manifest, refresh_manifest_configs, verify_repo

    repo_dir = Path(repo_dir)
    check_version(version)
    if not REPO_ID.fullmatch(repo_id):
        raise ValueError(f"repo_id must look like USER/NAME, got {repo_id!r}")
    manifest = read_manifest(repo_dir)
    if manifest["version"] != version:
        raise ValueError(
            f"version {version!r} differs from manifest.json's version {manifest['version']!r}"
        )
    in_card = card_version(repo_dir)
    if in_card != version:
        raise ValueError(f"version {version!r} differs from {README}'s version {in_card!r}")
    mismatches = verify_repo(repo_dir)
    if mismatches:
        listed = "; ".join(str(m) for m in mismatches[:5])
        more = f" (and {len(mismatches) - 5} more)" if len(mismatches) > 5 else ""
        raise ValueError(f"{repo_dir} does not match its manifest or card: {listed}{more}")
    if set_repo_id(repo_dir, repo_id):  # the quick start loads what is pushed, at its tag
        refresh_manifest_configs(repo_dir)
    card = read_card(repo_dir)
    _validate_card(card, repo_dir, repo_id)
    real = real_configs(card.data)
    if real and not private:
        logger.warning(
            "pushing the real-image configs %s to a public repository: check that their terms "
            "allow redistribution (see the card's licence section)",
            ", ".join(real),
        )

    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    tag = f"v{version}"
    repo_url = api.create_repo(
        repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True, token=token
    )
    tags = {ref.name for ref in api.list_repo_refs(repo_id, repo_type=REPO_TYPE, token=token).tags}
    if tag in tags:
        raise ValueError(
            f"tag {tag} already exists on {repo_id}; a release is immutable, bump the version"
        )
    logger.info("uploading %s to %s (dataset)", repo_dir, repo_id)
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(repo_dir),
        repo_type=REPO_TYPE,
        commit_message=f"Dataset release {tag}",
        ignore_patterns=IGNORE_PATTERNS,
        delete_patterns=DELETE_PATTERNS,
        token=token,
    )
    api.create_tag(
        repo_id,
        tag=tag,
        tag_message=f"gasr_hf dataset release {version}",
        revision=commit.oid,
        repo_type=REPO_TYPE,
        token=token,
    )
    logger.info("tagged %s at %s on %s", tag, commit.oid, repo_id)
    return PushResult(repo_id=repo_id, tag=tag, commit=commit.oid, url=str(repo_url))
