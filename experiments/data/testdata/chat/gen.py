#!/usr/bin/env python3
"""Renders every template of this directory on every conversation of
cases.json with Python Jinja2 (Debian: apt-get install python3-jinja2),
the way transformers' apply_chat_template does (trim_blocks, lstrip_blocks,
raise_exception, tojson without HTML escaping), with
add_generation_prompt false and true, and writes expected.json. The Go
tests compare the Go renderer with it; they need no Python.

    cd experiments/data/testdata/chat && python3 gen.py
"""
import glob
import json
import os

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateError(Exception):
    pass


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

here = os.path.dirname(os.path.abspath(__file__))
cases = json.load(open(os.path.join(here, "cases.json"), encoding="utf-8"))
out = {"jinja2_version": jinja2.__version__, "results": []}
for path in sorted(glob.glob(os.path.join(here, "*.jinja"))):
    name = os.path.basename(path)
    tmpl = env.from_string(open(path, encoding="utf-8").read())
    for case in cases:
        for agp in (False, True):
            r = {"template": name, "case": case["name"], "add_generation_prompt": agp}
            try:
                r["output"] = tmpl.render(messages=case["messages"], add_generation_prompt=agp,
                                          bos_token="<|begin_of_text|>", eos_token="<|eot|>")
            except TemplateError as e:
                r["error"] = str(e)
            out["results"].append(r)
with open(os.path.join(here, "expected.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
    f.write("\n")
