"""tests/ossfuzz/yamlcheck.py FILE...: each FILE must be YAML that parses.

With PyYAML (python3-yaml) the file is parsed for real; without it, a strict
minimal check runs instead: spaces only for indentation, indentation in
steps of two, every line a comment, a `key:` / `key: value` pair, a `- item`
or the body of a `|` or `>` block. The first output line says which ran.
On top of parsing, files that name themselves say what they must hold:
  .clusterfuzzlite/project.yaml   language: c or c++
  an OSS-Fuzz project.yaml        language, main_repo, fuzzing_engines
  .github/workflows/*.yml         on, jobs, a ClusterFuzzLite build_fuzzers
                                  step; run_fuzzers modes among code-change,
                                  batch, prune, coverage, and all four used
                                  when any workflow runs fuzzers
Exit 0 all valid, 1 otherwise (one line per problem: FILE:LINE: why).
"""
import os
import re
import sys

MODES = ("code-change", "batch", "prune", "coverage")
MODES_SEEN = set()
KEY = re.compile(r"^(- )?[A-Za-z0-9_.\-\"']+:( .*)?$")


def minimal(path, text):
    """The fallback: returns a list of problems (empty when the file is fine)."""
    problems = []
    block = None  # indentation of the key that opened a | or > block
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        if "\t" in line[:indent + 1]:
            problems.append(f"{path}:{n}: a tab in the indentation")
            continue
        if block is not None:
            if indent > block:
                continue
            block = None
        if body.startswith("#"):
            continue
        if indent % 2:
            problems.append(f"{path}:{n}: odd indentation ({indent} spaces)")
        if not (KEY.match(body) or body.startswith("- ")):
            problems.append(f"{path}:{n}: neither `key: value` nor `- item`: {body!r}")
            continue
        if re.search(r":\s*[|>][-+]?\s*$", body):
            block = indent
        if body.count('"') % 2:
            problems.append(f"{path}:{n}: unbalanced double quote")
    return problems


def semantic(path, doc):
    """What each kind of file must hold; returns problems."""
    if not isinstance(doc, dict):
        return [f"{path}: the top level is not a mapping"]
    base = os.path.basename(path)
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    if base == "project.yaml" and parent == ".clusterfuzzlite":
        if doc.get("language") not in ("c", "c++"):
            return [f"{path}: language is {doc.get('language')!r}, not c or c++"]
    elif base == "project.yaml":
        need = [k for k in ("language", "main_repo", "fuzzing_engines") if k not in doc]
        if need:
            return [f"{path}: missing {', '.join(need)}"]
    elif parent == "workflows":
        # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
        if "jobs" not in doc or not ("on" in doc or True in doc):
            return [f"{path}: a workflow needs `on` and `jobs`"]
        uses = [(st.get("uses", ""), st.get("with") or {})
                for job in doc["jobs"].values() for st in job.get("steps", [])]
        if not any(u.startswith("google/clusterfuzzlite/actions/build_fuzzers@") for u, _ in uses):
            return [f"{path}: no ClusterFuzzLite build_fuzzers step"]
        for u, w in uses:
            if u.startswith("google/clusterfuzzlite/actions/run_fuzzers@"):
                MODES_SEEN.add(w.get("mode"))
                if w.get("mode") not in MODES:
                    return [f"{path}: run_fuzzers mode {w.get('mode')!r} is not one of {MODES}"]
    return []


def main(paths):
    try:
        import yaml
    except ImportError:
        yaml = None
    print("yamlcheck: " + ("PyYAML " + yaml.__version__ if yaml else
                           "PyYAML absent: strict minimal check only"))
    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if yaml is None:
            problems += minimal(path, text)
            continue
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            problems.append(f"{path}: {e}")
            continue
        problems += semantic(path, doc)
    missing = [m for m in MODES if m not in MODES_SEEN]
    if MODES_SEEN and missing:
        problems.append(f"the workflows never run_fuzzers in mode {', '.join(missing)}")
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"yamlcheck: {len(paths)} file(s) valid")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
