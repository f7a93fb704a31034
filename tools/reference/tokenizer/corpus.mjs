// Seeded generator of the tokenizer golden corpus. Deterministic: same seed, same strings, on any machine.
// Categories cover what a Gemma tokenizer must get exactly right; see make-goldens.mjs.

function mulberry32(seed) {
  return function () {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = `the of and to in is you that it he was for on are as with his they at be this have from or one had by
word but not what all were we when your can said there use an each which she do how their if will up other about out
many then them these so some her would make like him into time has look two more write go see number no way could
people my than first water been call who oil its now find long down day did get come made may part tokenizer model
inference quantized kernel attention gradient embedding throughput latency benchmark server request streaming
Gemma engine vocabulary merge byte fallback international naïve café résumé façade coöperate Zürich São Paulo
don't can't won't it's I'm we're they've shouldn't y'all o'clock e-mail co-operate state-of-the-art well-known`.split(/\s+/);
const PUNCT = [".", ",", "!", "?", ";", ":", "…", " —", " -", "'s", "\"", "(", ")"];
const CODE = [
  "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
  "for (int i = 0; i < n; i++) {\n\tsum += a[i] * b[i];\n}\n",
  "const x = await fetch(`/api/v1/items?id=${id}`);\nconsole.log(JSON.stringify(x, null, 2));",
  "public sealed record Point(int X, int Y);\n\nvar p = new Point(3, 4) with { Y = 5 };",
  "{\"name\": \"edgewise\", \"version\": \"0.1.0\", \"tags\": [\"llm\", \"gemma\"], \"ok\": true, \"n\": null}",
  "<div class=\"row\"><span>Hello</span></div>\n<table><tr><td>1</td></tr></table>",
  "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;",
  "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }",
  "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}",
  "    if (x != null && x.Length > 0)\n    {\n        return x[..^1];\n    }\n",
  "diff --git a/x.cs b/x.cs\n@@ -1,3 +1,4 @@\n-old line\n+new line\n",
  "$ dotnet test --filter \"FullyQualifiedName~Tokenizer\" -c Release 2>&1 | tee log.txt",
];
const CJK = ["我们今天去公园散步。", "机器学习模型的推理速度非常快", "東京都の天気は晴れです。", "ひらがなとカタカナ、そして漢字。",
  "한국어 토크나이저 테스트입니다.", "人工知能は世界を変える", "繁體中文與简体中文", "今日はいい天気ですね！", "第一章 总则 第二条"];
const ARABIC = ["مرحبا بالعالم", "اللغة العربية جميلة جداً", "كيف حالك اليوم؟", "الذكاء الاصطناعي والتعلم الآلي", "١٢٣٤٥ رقم الهاتف"];
const DEVANAGARI = ["नमस्ते दुनिया", "भारत एक विशाल देश है।", "मशीन लर्निंग मॉडल", "क्या आप हिंदी बोलते हैं?", "संस्कृतम् भाषा", "०१२३४५६७८९"];
const HINGLISH = ["kal meeting hai, please time pe aana", "yaar ये model बहुत fast है", "mujhe ek coffee chahiye ☕ अभी",
  "weekend pe हम Goa जा रहे हैं", "ye bug fix karo before release, ठीक है?", "Aaj ka weather kaisa hai? बारिश होगी"];
const EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇮🇳", "🇺🇸", "❤️", "🔥", "🤖", "🧑🏿‍💻", "✨", "🏳️‍🌈", "1️⃣", "🫠", "🐍", "👋"];
const CONTROL = ["<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>",
  "<image_soft_token>", "<unused0>", "<unused17>", "<unused6241>", "[multimodal]", "</div>", "<table>", "<td>", "<h1>", "</code>",
  "<start_of_tur", "<end_of_turn", "<0x41>", "<0xZZ>", "<bos", "start_of_turn>", "<<bos>>", "<|turn>", "<turn|>", "<|\"|>"];
const ODD = ["\u00a0", "\u200b", "\u200d", "\u2581", "\u2581\u2581", "\u3000", "\ufeff", "\ufffd", "\u0301", "e\u0301", "\r\n", "\u2028", "\u0000", "\u007f", "\u00ad", "ﬁ", "Ⅻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𐍈"];

export function makeCorpus(seed = 20261129) {
  const rnd = mulberry32(seed);
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const sentence = () => {
    const n = int(3, 18);
    let s = "";
    for (let i = 0; i < n; i++) {
      let w = pick(WORDS);
      if (i === 0 || rnd() < 0.08) w = w[0].toUpperCase() + w.slice(1);
      if (rnd() < 0.03) w = w.toUpperCase();
      s += (i ? " " : "") + w + (rnd() < 0.1 ? pick(PUNCT) : "");
    }
    return s + pick([".", ".", "!", "?", ""]);
  };
  const digits = (n) => { let s = ""; for (let i = 0; i < n; i++) s += String(int(0, 9)); return s; };
  const ws = () => pick([" ", "  ", "   ", "\n", "\n\n", "\t", "\t\t", " \n", "\n ", "    ", "\r\n", " \t "]).repeat(int(1, 4));
  const out = [];
  const add = (category, text) => out.push({ category, text });

  for (let i = 0; i < 260; i++) add("prose", Array.from({ length: int(1, 4) }, sentence).join(pick([" ", "\n", "\n\n", "  "])));
  for (let i = 0; i < 150; i++) {
    let c = pick(CODE);
    if (rnd() < 0.5) c = c.replaceAll("    ", "\t");
    if (rnd() < 0.3) c = pick(CODE) + "\n" + c;
    add("code", c);
  }
  for (let i = 0; i < 120; i++) {
    let s = "";
    for (let k = int(1, 6); k > 0; k--) s += (rnd() < 0.5 ? ws() : "") + pick(WORDS) + ws();
    if (rnd() < 0.2) s = " ".repeat(int(1, 40)) + s + "\n".repeat(int(1, 35));
    add("whitespace", s);
  }
  for (let i = 0; i < 100; i++) {
    const forms = [() => digits(int(1, 60)), () => `${digits(int(1, 4))},${digits(3)},${digits(3)}.${digits(2)}`,
      () => `v${int(0, 20)}.${int(0, 99)}.${int(0, 999)}`, () => `+91 ${digits(5)} ${digits(5)}`, () => `${int(1, 31)}/${int(1, 12)}/${int(1900, 2100)}`,
      () => `3.${digits(int(10, 40))}e-${int(1, 300)}`, () => `0x${Math.floor(rnd() * 2 ** 31).toString(16).toUpperCase()}`, () => `The year ${int(1000, 2999)} had ${digits(int(2, 9))} days?`];
    add("digits", pick(forms)());
  }
  for (let i = 0; i < 80; i++) add("emoji", Array.from({ length: int(1, 6) }, () => pick(EMOJI) + (rnd() < 0.5 ? " " + pick(WORDS) : "")).join(rnd() < 0.5 ? "" : " "));
  for (let i = 0; i < 80; i++) add("cjk", Array.from({ length: int(1, 3) }, () => pick(CJK)).join(rnd() < 0.7 ? "" : " ") + (rnd() < 0.3 ? " " + sentence() : ""));
  for (let i = 0; i < 60; i++) add("arabic", Array.from({ length: int(1, 3) }, () => pick(ARABIC)).join(" ") + (rnd() < 0.3 ? " (" + pick(WORDS) + ")" : ""));
  for (let i = 0; i < 60; i++) add("devanagari", Array.from({ length: int(1, 3) }, () => pick(DEVANAGARI)).join(" "));
  for (let i = 0; i < 60; i++) add("hinglish", Array.from({ length: int(1, 3) }, () => pick(HINGLISH)).join(pick([" ", ". ", "\n"])));
  for (let i = 0; i < 90; i++) {
    let s = "";
    for (let k = int(1, 5); k > 0; k--) s += pick(CONTROL) + (rnd() < 0.6 ? pick(["user\n", "model\n", sentence(), "\n", " ", ""]) : "");
    add("control", s);
  }
  for (let i = 0; i < 40; i++) {
    const lone = String.fromCharCode(rnd() < 0.5 ? int(0xd800, 0xdbff) : int(0xdc00, 0xdfff));
    const forms = [lone, "a" + lone + "b", pick(WORDS) + " " + lone + pick(EMOJI), lone + lone, "😀".slice(0, 1) + " x", "x " + "😀".slice(1)];
    add("lone-surrogate", pick(forms));
  }
  for (let i = 0; i < 100; i++) {
    let s = "";
    for (let k = int(1, 8); k > 0; k--) s += pick([() => pick(ODD), () => pick(WORDS), () => pick(CJK).slice(0, int(1, 4)), () => pick(EMOJI), () => ws(), () => String.fromCodePoint(int(0x20, 0x2fff)), () => String.fromCodePoint(int(0x1f300, 0x1faff))])();
    add("unicode-mix", s);
  }
  for (let i = 0; i < 12; i++) {
    let s = "";
    while (s.length < 2500) s += pick([sentence, () => pick(CODE), () => pick(CJK), () => pick(HINGLISH), () => pick(CONTROL), () => digits(int(5, 30)), ws])() + pick([" ", "\n", ""]);
    add("long", s);
  }
  add("empty", "");
  add("single-space", " ");
  add("only-newlines", "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n");
  add("many-spaces", " ".repeat(100));
  return out;
}
