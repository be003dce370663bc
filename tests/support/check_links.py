"""Check that the Markdown files of an installed collection point only at what ships in it.

    python tests/support/check_links.py DIR [REPO]   (DIR: the installed collection's root; REPO: the source tree)

The README and docs of the tarball are read on Galaxy and in the installed copy, where the repository's other
files (server/, tools/, the Makefile) do not exist: every relative link must resolve inside DIR, and with REPO
given, a path in inline code (`tools/services.py`) must not name a top-level entry of the repository that does
not ship (refer to those by absolute repository URL). Exits 1 naming each problem, with the file and line.
"""

import re
import sys
from pathlib import Path

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\s]+)`")


def broken_links(root: Path, unshipped: frozenset[str] = frozenset()) -> list[str]:
    found = []
    for page in sorted(root.rglob("*.md")):
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for code in CODE.findall(line):
                first = code.lstrip("./").split("/", 1)[0]
                if ("/" in code or "." in code) and first in unshipped and "://" not in line:
                    found.append(f"{page.relative_to(root)}:{number}: `{code}` (does not ship)")
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue  # absolute URLs and anchors in the page
                path = target.split("#", 1)[0]
                if not (page.parent / path).resolve().is_relative_to(root.resolve()) or not (page.parent / path).exists():
                    found.append(f"{page.relative_to(root)}:{number}: {target}")
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1])
    unshipped = frozenset()
    if len(argv) > 2:
        shipped = set(entry.name for entry in root.iterdir())
        unshipped = frozenset(entry.name for entry in Path(argv[2]).iterdir()
                              if entry.name not in shipped and not entry.name.startswith(".git"))
    broken = broken_links(root, unshipped)
    for entry in broken:
        print(f"broken link (not in the collection): {entry}", file=sys.stderr)
    print(f"links checked in the Markdown files of {root}: {'none broken' if not broken else f'{len(broken)} broken'}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
