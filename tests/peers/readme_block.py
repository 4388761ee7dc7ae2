#!/usr/bin/env python3
"""Prints the fenced code block that follows `<!-- deploy-test: NAME -->` in a Markdown
file, exactly as written (the test runs what the README says).

  readme_block.py README.md NAME      -> the block's lines on stdout; exit 1 when there is
                                         no such marker, no fenced block right after it,
                                         or the marker is used twice
"""
import re
import sys


def block(text, name):
    marker = re.compile(r"^<!-- deploy-test: (\S+) -->\s*$")
    lines = text.split("\n")
    found = []
    for i, line in enumerate(lines):
        m = marker.match(line)
        if not m or m.group(1) != name:
            continue
        j = i + 1
        if j >= len(lines) or not lines[j].startswith("```"):
            raise ValueError("marker %r on line %d is not followed by a fenced block" % (name, i + 1))
        k = j + 1
        while k < len(lines) and not lines[k].startswith("```"):
            k += 1
        if k >= len(lines):
            raise ValueError("block %r from line %d is not closed" % (name, j + 1))
        found.append("\n".join(lines[j + 1:k]) + "\n")
    if len(found) != 1:
        raise ValueError("%d blocks marked %r (want exactly 1)" % (len(found), name))
    return found[0]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        sys.stdout.write(block(open(sys.argv[1]).read(), sys.argv[2]))
    except (OSError, ValueError) as e:
        sys.exit("readme_block.py: %s" % e)


if __name__ == "__main__":
    main()
