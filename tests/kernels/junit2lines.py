#!/usr/bin/python3
"""Turn a pytest junit XML file (junit_family=xunit1) into one result line per test:

    RESULT<TAB>tests/e2e/test_x.py::test_y[param]<TAB>pass|fail|skip<TAB>reason

Used in the guests (lines go to the result port, /dev/ttyS1) and on the host, so both sides of
the matrix are read the same way. Standard library only: it runs inside the initramfs.
"""
import sys
import xml.etree.ElementTree as ET


def one_line(s, limit=300):
    s = " ".join((s or "").split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def node_id(tc):
    name = tc.get("name", "?")
    cls = tc.get("classname", "")
    path = tc.get("file")
    if path:
        mod = path[:-3].replace("/", ".") if path.endswith(".py") else path
        rest = cls[len(mod) + 1:] if cls.startswith(mod + ".") else ""
        return "::".join(x for x in (path, rest.replace(".", "::"), name) if x)
    return f"{cls}::{name}" if cls else name


def outcome(tc):
    for el in tc:
        if el.tag in ("failure", "error"):
            return "fail", one_line(el.get("message") or el.text)
    for el in tc:
        if el.tag == "skipped":
            msg = el.get("message") or el.text or ""
            if el.get("type") == "pytest.xfail":
                msg = "xfail: " + msg
            return "skip", one_line(msg)
    return "pass", ""


def main(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"junit2lines: cannot read '{path}': {e}", file=sys.stderr)
        return 1
    for tc in root.iter("testcase"):
        res, why = outcome(tc)
        print("\t".join(("RESULT", node_id(tc), res, why.replace("\t", " "))))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: junit2lines.py JUNIT_XML", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
