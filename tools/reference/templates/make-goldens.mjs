// Regenerates tests/TestData/templates/jinja-js-goldens.json: every template in ../shared/data/templates
// (and templates/history) rendered with @huggingface/jinja (pinned in package-lock.json) for every
// conversation in tests/TestData/templates/conversations.json.
//
//   npm ci --prefix tools/reference/templates && node tools/reference/templates/make-goldens.mjs
//
// The C# tests read the committed JSON; node is only needed to regenerate it.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const shared = join(repo, "..", "shared", "data");
const testData = join(repo, "tests", "TestData", "templates");
const jinjaVersion = JSON.parse(readFileSync(join(here, "node_modules", "@huggingface", "jinja", "package.json"), "utf8")).version;

const templateFiles = [
  ...readdirSync(join(shared, "templates")).filter((f) => f.endsWith(".jinja")).map((f) => join("templates", f)),
  ...readdirSync(join(shared, "templates", "history")).filter((f) => f.endsWith(".jinja")).map((f) => join("templates", "history", f)),
].sort();

const { conversations } = JSON.parse(readFileSync(join(testData, "conversations.json"), "utf8"));
const renderings = [];
for (const file of templateFiles) {
  const source = readFileSync(join(shared, file), "utf8");
  const sha256 = createHash("sha256").update(source).digest("hex");
  const template = new Template(source);
  for (const conversation of conversations) {
    const variables = {
      messages: conversation.messages,
      add_generation_prompt: conversation.add_generation_prompt,
      bos_token: "<bos>",
      eos_token: "<eos>",
      pad_token: "<pad>",
      unk_token: "<unk>",
    };
    if (conversation.tools) variables.tools = conversation.tools;
    if (conversation.enable_thinking !== undefined) variables.enable_thinking = conversation.enable_thinking;
    const entry = { template: file, template_sha256: sha256, case: conversation.name };
    try {
      entry.rendered = template.render(variables);
    } catch (error) {
      entry.error = String(error.message ?? error);
    }
    renderings.push(entry);
  }
}

const out = {
  _about:
    "Prompts rendered by @huggingface/jinja " + jinjaVersion +
    " (Template: trim_blocks and lstrip_blocks on) from the official templates in ../shared/data, for each conversation in conversations.json; " +
    "'error' means the renderer threw (raise_exception or a runtime error). Regenerate with tools/reference/templates/make-goldens.mjs.",
  renderer: { package: "@huggingface/jinja", version: jinjaVersion },
  renderings,
};
writeFileSync(join(testData, "jinja-js-goldens.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`${renderings.length} renderings (${renderings.filter((r) => r.error).length} errors) -> ${relative(repo, join(testData, "jinja-js-goldens.json"))}`);
