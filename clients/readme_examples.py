"""Print the README's worked examples of one language, so that CI runs
them exactly as written: the fenced code blocks tagged LANG under the
heading "## Use from R / Python", up to the next "## " heading.

    python3 clients/readme_examples.py README.md python > /tmp/example.py
"""

import re
import sys


def examples(text, lang):
    m = re.search(r"^## Use from R / Python\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        raise SystemExit("README has no '## Use from R / Python' section")
    blocks = re.findall(r"^```" + re.escape(lang) + r"\n(.*?)^```", m.group(1), re.S | re.M)
    if not blocks:
        raise SystemExit(f"README's 'Use from R / Python' section has no ```{lang} block")
    return "\n".join(blocks)


if __name__ == "__main__":
    path, lang = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        sys.stdout.write(examples(f.read(), lang))
