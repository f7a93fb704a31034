using System.Text;
using Edgewise.Engine.Sampling;
using Edgewise.Text.Tokenization;

namespace Edgewise.Engine.Tests.Constraints;

/// <summary>
/// A small but realistic vocabulary for grammar tests: Gemma 4's control tokens as special ids, 256 byte-fallback
/// tokens, JSON and Gemma tool-call punctuation pieces (<c>{"</c>, <c>":</c>, <c> "</c>, <c>&lt;|</c>, ...), digits,
/// whitespace runs, words with and without a leading space, multi-byte UTF-8 pieces, and substrings of a seeded corpus.
/// </summary>
public sealed class TestTokenizer : ITokenizer
{
    public static readonly string[] SpecialPieces =
        ["<pad>", "<eos>", "<bos>", "<|tool_call>", "<tool_call|>", "<|\"|>", "<|channel>", "<channel|>", "<turn|>", "<|tool_response>", "<|turn>"];

    private static readonly string[] Words =
    [
        "name", "age", "city", "unit", "weather", "temperature", "Paris", "Oslo", "tags", "items", "id", "price", "value", "true", "false",
        "null", "call", "get_weather", "search", "query", "limit", "the", "a", "of", "and", "is", "in", "to", "hello", "world", "user",
        "email", "address", "street", "zip", "count", "score", "kind", "color", "red", "green", "blue", "small", "large", "ok", "error",
        "status", "data", "list", "enabled", "options", "nested", "level", "C", "F", "celsius", "fahrenheit", "Ünïcödé", "日本", "語", "😀",
    ];

    private static readonly string[] Punctuation =
    [
        "{", "}", "[", "]", ":", ",", "\"", "{\"", "\":", "\": ", "\",", "\", \"", "\"}", "\"]", "},", "],", "}}", "]]", "[{", "[\"", "{}", "[]",
        " ", "  ", "    ", "        ", "\n", "\n  ", "\n    ", "\t", " \"", " {", " [", ", ", ": ", "-", ".", "e", "E", "+", "0.", ".5", "e+",
        "e-", "\\", "\\\"", "\\n", "\\u", "\\u00", "<", ">", "|", "<|", "|>", "<|\"", "\"|>", "call:", "call", ":{", "}<", "_", "é", "ß", "ü",
        "\u00e9t\u00e9", "—", "’", "\r\n", "\\/", "\\t", "ab", "cd", "12", "3.14", "-1", "1e5", "100", "2024", "000", "99", "007",
    ];

    private readonly List<string> _pieces = [];
    private readonly List<byte[]> _bytes = [];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly int _specialCount;

    public TestTokenizer(int corpusPieces = 2000, ulong seed = 7)
    {
        foreach (string piece in SpecialPieces)
            Add(piece, Encoding.UTF8.GetBytes(piece));
        _specialCount = _pieces.Count;
        for (int b = 0; b < 256; b++)
            Add($"<0x{b:X2}>", [(byte)b]);
        foreach (string p in Punctuation)
            AddText(p);
        for (int d = 0; d < 100; d++)
            AddText(d.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (string w in Words)
        {
            AddText(w);
            AddText(" " + w);
            AddText("\"" + w);
            AddText("\"" + w + "\"");
            AddText("\"" + w + "\":");
            AddText(w + ":");
        }
        // Substrings of a seeded corpus of JSON-ish and prose text, like a BPE vocabulary's long tail.
        var random = new Xoshiro256StarStar(seed);
        var corpus = new StringBuilder();
        for (int i = 0; i < 400; i++)
        {
            string w = Words[(int)(random.NextUInt64() % (ulong)Words.Length)];
            corpus.Append((random.NextUInt64() % 6) switch { 0 => "{\"" + w + "\": ", 1 => " " + w, 2 => w + "\", ", 3 => "[" + w + "]", 4 => w + "\n", _ => "\"" + w + "\"," });
        }
        string text = corpus.ToString();
        int added = 0;
        while (added < corpusPieces)
        {
            int start = (int)(random.NextUInt64() % (ulong)text.Length);
            int length = 2 + (int)(random.NextUInt64() % 7);
            if (start + length > text.Length || char.IsSurrogate(text[start]) || char.IsSurrogate(text[start + length - 1]))
                continue;
            if (AddText(text.Substring(start, length)))
                added++;
        }
    }

    private bool AddText(string text) => Add(text, Encoding.UTF8.GetBytes(text));

    private bool Add(string piece, byte[] bytes)
    {
        if (!_ids.TryAdd(piece, _pieces.Count))
            return false;
        _pieces.Add(piece);
        _bytes.Add(bytes);
        return true;
    }

    public int VocabularySize => _pieces.Count;

    public int BosId => 2;

    public int EosId => 1;

    public int PadId => 0;

    public int Id(string piece) => _ids[piece];

    /// <summary>Greedy longest match over ordinary pieces (good enough to feed test text in).</summary>
    public int[] Encode(string text, bool addBos = false)
    {
        var ids = new List<int>();
        if (addBos)
            ids.Add(BosId);
        int i = 0;
        while (i < text.Length)
        {
            int best = -1, bestLength = 0;
            for (int length = Math.Min(24, text.Length - i); length >= 1 && best < 0; length--)
            {
                if (_ids.TryGetValue(text.Substring(i, length), out int id))
                {
                    best = id;
                    bestLength = length;
                }
            }
            if (best < 0)
                throw new ArgumentException($"cannot encode '{text[i]}'", nameof(text));
            ids.Add(best);
            i += bestLength;
        }
        return [.. ids];
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (skipSpecial && IsSpecial(id))
                continue;
            bytes.AddRange(_bytes[id]);
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    public ReadOnlySpan<byte> TokenBytes(int id) => _bytes[id];

    public string TokenPiece(int id) => _pieces[id];

    public bool IsSpecial(int id) => id < _specialCount;

    public int? PieceToId(string piece) => _ids.TryGetValue(piece, out int id) ? id : null;
}
