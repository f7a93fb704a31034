"""Renders the same matrix as make-goldens.mjs with Python Jinja2, configured exactly as transformers'
apply_chat_template configures it, into tests/TestData/templates/jinja2-goldens.json.

Where @huggingface/jinja and Jinja2 disagree, the C# engine follows Jinja2 (what transformers runs);
the C# tests assert agreement with both and list the divergences.

    python3 tools/reference/templates/make-goldens-jinja2.py   # needs jinja2==3.1.6
"""
import hashlib
import json
import pathlib

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
SHARED = REPO.parent / "shared" / "data"
TEST_DATA = REPO / "tests" / "TestData" / "templates"


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

files = sorted(
    [str(p.relative_to(SHARED)) for p in (SHARED / "templates").glob("*.jinja")]
    + [str(p.relative_to(SHARED)) for p in (SHARED / "templates" / "history").glob("*.jinja")]
)
conversations = json.loads((TEST_DATA / "conversations.json").read_text(encoding="utf-8"))["conversations"]
renderings = []
for file in files:
    source = (SHARED / file).read_text(encoding="utf-8")
    template = env.from_string(source)
    for c in conversations:
        variables = dict(messages=c["messages"], add_generation_prompt=c["add_generation_prompt"],
                         bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")
        if "tools" in c:
            variables["tools"] = c["tools"]
        if "enable_thinking" in c:
            variables["enable_thinking"] = c["enable_thinking"]
        entry = dict(template=file, template_sha256=hashlib.sha256((SHARED / file).read_bytes()).hexdigest(), case=c["name"])
        try:
            entry["rendered"] = template.render(**variables)
        except Exception as error:  # noqa: BLE001 - recorded as the expected outcome
            entry["error"] = str(error)
        renderings.append(entry)

out = dict(
    _about=f"Prompts rendered by Python Jinja2 {jinja2.__version__} configured like transformers (ImmutableSandboxedEnvironment, "
    "trim_blocks, lstrip_blocks, loopcontrols, raise_exception, tojson=json.dumps(ensure_ascii=False)) for the same matrix as "
    "jinja-js-goldens.json. Regenerate with tools/reference/templates/make-goldens-jinja2.py.",
    renderer=dict(package="jinja2", version=jinja2.__version__),
    renderings=renderings,
)
(TEST_DATA / "jinja2-goldens.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"{len(renderings)} renderings ({sum('error' in r for r in renderings)} errors)")
