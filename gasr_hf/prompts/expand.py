"""Corpus expansion: a local text-generation model enumerates styles and components for a domain,
as the GASR paper did with GPT-4o; the answers are parsed, normalised and de-duplicated."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gasr_hf.placement import place
from gasr_hf.prompts.corpus import (
    PAPER_BASE_DESCRIPTION,
    PAPER_TEMPLATE,
    Corpus,
    corpus_from_dict,
)

logger = logging.getLogger(__name__)

TextGenerator = Callable[[str], str]

_KIND_HINTS = {
    "styles": (
        "visual styles for the composition and expression of such images (art movements, print "
        "techniques, illustration and design traditions), each 1 to 5 words, usable in the phrase "
        "'in a ... composition'"
    ),
    "components": (
        "components: concrete subjects that can appear in such images (objects, layouts, scenes), "
        "each a short noun phrase of 2 to 8 words such as 'a concert poster'"
    ),
}
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u25e6]+|\(?\d{1,4}[.):]|[a-zA-Z][.)])\s*")
_CHATTER = re.compile(r"^(sure|here (are|is)|certainly|of course|note|i hope)\b", re.IGNORECASE)
_MAX_WORDS = 10


@dataclass(frozen=True)
class ExpandConfig:
    """How to ask the model; recorded in the log and reflected in the corpus it writes."""

    model: str
    domain: str
    n_styles: int
    n_components: int
    name: str = "custom"
    version: str = "1.0.0"
    base_description: str = PAPER_BASE_DESCRIPTION
    template: str = PAPER_TEMPLATE
    items_per_request: int = 40
    max_rounds: int = 30
    max_new_tokens: int = 768
    temperature: float = 0.9
    seed: int = 0
    device: str | None = None

    def __post_init__(self) -> None:
        for key in (
            "n_styles",
            "n_components",
            "items_per_request",
            "max_rounds",
            "max_new_tokens",
        ):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.n_components < 2:
            raise ValueError(f"n_components must be >= 2, got {self.n_components}")
        if not self.domain.strip():
            raise ValueError("domain is empty")


def parse_items(text: str) -> list[str]:
    """Items from a model's answer: one per line (or one comma-separated line), bullets, numbering,
    quotes and trailing punctuation removed; chatter, headings and over-long lines dropped."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) == 1 and lines[0].count(",") >= 2:
        lines = lines[0].split(",")
    items = []
    for line in lines:
        item = _BULLET.sub("", line.strip())
        item = item.replace("**", "").strip().strip("\"'`\u201c\u201d\u2018\u2019").strip()
        item = item.rstrip(".,;").strip()
        if not item or item.endswith(":") or _CHATTER.match(item):
            continue
        if len(item.split()) > _MAX_WORDS or not any(ch.isalpha() for ch in item):
            continue
        items.append(" ".join(item.split()))
    return items


def _dedup_key(item: str) -> str:
    key = " ".join(item.split()).casefold()
    return re.sub(r"^(a|an|the)\s+", "", key)


def merge_unique(existing: list[str], new: list[str]) -> list[str]:
    """``existing`` followed by the items of ``new`` not already present (case, spacing and a leading
    article ignored)."""
    seen = {_dedup_key(x) for x in existing}
    out = list(existing)
    for item in new:
        key = _dedup_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def build_request(kind: str, domain: str, count: int, avoid: list[str]) -> str:
    """The instruction sent to the model for one round."""
    request = (
        f"List {count} distinct {_KIND_HINTS[kind]}, for images of this domain: {domain}.\n"
        "Answer with one item per line, without numbering, explanations or any other text."
    )
    if avoid:
        request += "\nDo not repeat any of these: " + "; ".join(avoid[-60:]) + "."
    return request


def load_text_generator(
    model: str,
    *,
    max_new_tokens: int = 768,
    temperature: float = 0.9,
    seed: int = 0,
    device: str | None = None,
) -> TextGenerator:
    """A callable prompt -> answer around a transformers causal LM (Hub id or local path).

    Chat models get their chat template; plain language models get the prompt as text.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
        lm = AutoModelForCausalLM.from_pretrained(model)
    except OSError as err:
        raise FileNotFoundError(
            f"cannot load text-generation model {model!r}: {str(err).splitlines()[0]} "
            "(pass a local folder holding the model when the Hub is unreachable)"
        ) from err
    device = place(device).device
    lm.to(device).eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    calls = 0

    def generate(prompt: str) -> str:
        nonlocal calls
        if tokenizer.chat_template:
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )["input_ids"]
        else:
            ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        ids = ids.to(device)
        # Sampling draws from the global RNG; reseed per call so a run is reproducible.
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)) + calls)
        calls += 1
        with torch.no_grad():
            out = lm.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)

    return generate


def expand_corpus(
    config: ExpandConfig, out: str | Path, generate: TextGenerator | None = None
) -> Corpus:
    """Ask the model round by round until ``n_styles`` and ``n_components`` unique items are found,
    then write and return the validated corpus.

    When ``max_rounds`` pass without enough items, what was found is kept in ``OUT.partial.yaml`` and a
    ``ValueError`` says how many of each kind are missing.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    if generate is None:
        generate = load_text_generator(
            config.model,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            seed=config.seed,
            device=config.device,
        )
    found: dict[str, list[str]] = {"styles": [], "components": []}
    wanted = {"styles": config.n_styles, "components": config.n_components}
    with tqdm(total=config.max_rounds, desc="corpus expand", unit="round") as bar:
        for _ in range(config.max_rounds):
            missing = [k for k in found if len(found[k]) < wanted[k]]
            if not missing:
                break
            kind = missing[0]
            count = min(config.items_per_request, wanted[kind] - len(found[kind]))
            answer = generate(build_request(kind, config.domain, count, found[kind]))
            before = len(found[kind])
            found[kind] = merge_unique(found[kind], parse_items(answer))
            logger.info(
                "%s: %d new, %d of %d",
                kind,
                len(found[kind]) - before,
                len(found[kind]),
                wanted[kind],
            )
            bar.update(1)
            bar.set_postfix(styles=len(found["styles"]), components=len(found["components"]))
    data = {
        "name": config.name,
        "domain": config.domain,
        "version": config.version,
        "base_description": config.base_description,
        "template": config.template,
        "styles": found["styles"][: config.n_styles],
        "components": found["components"][: config.n_components],
    }
    short = {k: wanted[k] - len(found[k]) for k in found if len(found[k]) < wanted[k]}
    if short:
        from gasr_hf.config import save_yaml

        partial = save_yaml(data, out.with_suffix(".partial.yaml"))
        raise ValueError(
            f"model {config.model!r} gave too few unique items after {config.max_rounds} rounds: "
            + ", ".join(f"{len(found[k])} of {wanted[k]} {k}" for k in short)
            + f"; what was found is in {partial} (raise max_rounds or use a stronger model)"
        )
    corpus = corpus_from_dict(data, source=f"expanded corpus for {out}")
    corpus.save(out)
    return corpus
