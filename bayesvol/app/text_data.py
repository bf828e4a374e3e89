"""A real character sequence that ships with every Python: the docstrings of the standard library.

The text is read from the running interpreter's own standard library (its top-level modules' source files,
parsed, never imported), so it needs no download and is the same on every machine with the same Python
version; the version and the number of modules read are recorded with the data.
"""

from __future__ import annotations

import ast
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bayesvol.errors import InputError

__all__ = ["SequenceData", "stdlib_text"]

TEXT_DATASETS: dict[str, str] = {"python-stdlib-text": "sequence"}
"""Character sequences `--data` accepts, and their task."""


@dataclass(frozen=True)
class SequenceData:
    """A symbol sequence split by position: ``symbols[:split]`` trains, ``symbols[split:]`` tests.

    ``symbols`` are integers 0 … K−1 indexing ``alphabet`` (sorted characters).
    """

    name: str
    symbols: np.ndarray
    alphabet: list[str]
    split: int
    task: str = "sequence"
    source: dict[str, str] = field(default_factory=dict)

    @property
    def train(self) -> np.ndarray:
        """The first ``split`` symbols."""
        return self.symbols[: self.split]

    @property
    def test(self) -> np.ndarray:
        """The symbols after ``split``."""
        return self.symbols[self.split:]

    @property
    def num_symbols(self) -> int:
        """The alphabet's size K."""
        return len(self.alphabet)


def _docstrings(tree: ast.Module) -> list[str]:
    """The module's, its classes' and its functions' docstrings, in the order they appear in the file."""
    nodes = [tree, *(node for node in ast.walk(tree)
                     if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef))]
    found = [(getattr(node, "lineno", 0), ast.get_docstring(node, clean=True)) for node in nodes]
    return [text for _, text in sorted(found, key=lambda pair: pair[0]) if text]


def stdlib_text(num_chars: int = 200_000, test_fraction: float = 0.2) -> SequenceData:
    """The first ``num_chars`` characters of the standard library's docstrings, split by position.

    Modules are read in sorted file-name order; the last ``test_fraction`` of the text is the test part.
    """
    if isinstance(num_chars, bool) or not isinstance(num_chars, int) or num_chars < 100:
        raise InputError(f"num_chars must be an integer of at least 100, got {num_chars!r}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise InputError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    pieces: list[str] = []
    size = 0
    modules = 0
    for path in sorted(stdlib.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue  # an unreadable file is skipped: the text stays a function of the installed library
        texts = _docstrings(tree)
        if not texts:
            continue
        modules += 1
        for text in texts:
            pieces.append(text + "\n\n")
            size += len(text) + 2
        if size >= num_chars:
            break
    text = "".join(pieces)[:num_chars]
    if len(text) < num_chars:
        raise InputError(f"the standard library at {stdlib} holds only {len(text)} characters of docstrings; "
                         f"ask for fewer than {num_chars}")
    alphabet = sorted(set(text))
    index = {c: i for i, c in enumerate(alphabet)}
    symbols = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    split = round(len(text) * (1.0 - float(test_fraction)))
    version = ".".join(str(v) for v in sys.version_info[:3])
    return SequenceData("python-stdlib-text", symbols, alphabet, split,
                        source={"python": version, "stdlib": str(stdlib), "modules": str(modules),
                                "what": "docstrings of the top-level standard-library modules, sorted by "
                                        "file name"})
