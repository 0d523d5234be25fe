"""Writes one section of bench/RESULTS.md: the section titled `## <title>` is replaced with the
new text, or added at the end. Shared by the benchmark scripts (issue #18 on)."""

import re


def write_section(title, section, path="bench/RESULTS.md"):
    text = open(path).read()
    pattern = re.compile(r"^## " + re.escape(title) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    open(path, "w").write(text)
