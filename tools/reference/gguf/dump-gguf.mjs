// Prints the header of a GGUF file as parsed by @huggingface/gguf (pinned in package.json), as JSON.
// Usage: npm ci && node dump-gguf.mjs FILE.gguf > FILE.hf-gguf.json
// BigInts (u64/i64 values, shapes, offsets) are written as decimal strings so no precision is lost.
import { gguf } from "@huggingface/gguf";
import path from "node:path";

const file = path.resolve(process.argv[2]);
const { metadata, tensorInfos, tensorDataOffset } = await gguf(file, { allowLocalFile: true });
const replacer = (_key, value) => (typeof value === "bigint" ? value.toString() : value);
const out = { metadata, tensorInfos, tensorDataOffset };
process.stdout.write(JSON.stringify(out, replacer, 2) + "\n");
