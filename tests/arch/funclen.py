#!/usr/bin/env python3
"""tests/arch/funclen.py ROOT [LIMIT]: lists C functions longer than LIMIT
lines (default 80) in the product's code (harness/, targets/, examples/,
bench/; tests are exempt), and fails when one is not named in
tests/arch/long-functions.txt, the list of the ones kept on purpose, each with
its reason. Relies on the committed .clang-format layout (arch.format): a
definition's signature starts in column 0 and its body ends with '}' in
column 0. A function whose body is one call printing a text (a --help
page: string literal lines and a handful of others) is a text, not logic,
and is not counted."""
import os
import re
import subprocess
import sys

SKIP_START = re.compile(r'(typedef|struct|enum|union)\b')


def functions(path):
    lines = open(path, errors='replace').read().split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        # A definition's signature starts in column 0 and may wrap: its body
        # opens with the first line ending in '{' before any ';' (a wrapped
        # signature's '{' ends an indented line, once missed here).
        if (line and line[0] not in ' \t#/}*' and '(' in line
                and '=' not in line.split('(', 1)[0] and not SKIP_START.match(line)):
            j = i
            while j < min(len(lines) - 1, i + 8) and not lines[j].rstrip().endswith('{') \
                    and ';' not in lines[j]:
                j += 1
            if lines[j].rstrip().endswith('{') and ';' not in ''.join(lines[i:j + 1]):
                m = re.search(r'([A-Za-z_]\w*)\s*\(', line)
                k = j + 1
                while k < len(lines) and not lines[k].startswith('}'):
                    k += 1
                body = [l.strip() for l in lines[j + 1:k] if l.strip()]
                code = [l for l in body if not l.startswith('"')]
                if m and not (len(body) > 10 and len(code) <= 4):
                    yield m.group(1), i + 1, k - i + 1
                i = k
        i += 1


def main():
    root = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 80
    os.chdir(root)
    kept = {}
    for line in open('tests/arch/long-functions.txt'):
        line = line.split('#', 1)[0].strip()
        if line:
            where, _, reason = line.partition(' ')
            kept[where] = reason.strip()
    files = subprocess.run(['git', 'ls-files', 'harness', 'targets', 'examples', 'bench'],
                           capture_output=True, text=True, check=True).stdout.split()
    bad = 0
    seen = set()
    for f in sorted(files):
        if not f.endswith('.c') or not os.path.exists(f):
            continue
        for name, line, n in functions(f):
            if n <= limit:
                continue
            key = f'{f}:{name}'
            seen.add(key)
            if key in kept:
                print(f'kept: {f}:{line}: {name} is {n} lines ({kept[key]})')
            else:
                print(f'{f}:{line}: {name} is {n} lines, over {limit}: split it, or name it '
                      f'with a reason in tests/arch/long-functions.txt')
                bad = 1
    for key in sorted(set(kept) - seen):
        print(f'tests/arch/long-functions.txt: {key} is no longer over {limit} lines: '
              f'take it off the list')
        bad = 1
    if not bad:
        print(f'funcs: no function over {limit} lines but the {len(kept)} kept on purpose')
    return bad


sys.exit(main())
