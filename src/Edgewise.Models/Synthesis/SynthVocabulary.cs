using System.Globalization;
using Edgewise.Core.Formats.Gguf;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// The tokenizer a synthetic GGUF carries as <c>tokenizer.ggml.*</c> (model <c>gemma4</c>: BPE with explicit merges,
/// <c>▁</c> for spaces, byte fallback): a small built-in vocabulary with every Gemma 4 control token at its real id.
/// (A real tokenizer is embedded by the caller through <see cref="Gemma4GgufSynthesizer.Write"/>'s tokenizer hook;
/// the CLI uses Edgewise.Text's loader for that.)
/// </summary>
public sealed class SynthVocabulary
{
    // llama.cpp token types (llama_token_type).
    public const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    private SynthVocabulary(string[] tokens, int[] types, string[] merges)
    {
        Tokens = tokens;
        Types = types;
        Merges = merges;
    }

    public string[] Tokens { get; }
    public int[] Types { get; }
    public string[] Merges { get; }
    public int Count => Tokens.Length;

    /// <summary>Gemma 4 control tokens at their real ids (../shared/data/README.md §3).</summary>
    public static IReadOnlyDictionary<int, (string Piece, int Type)> ControlTokens { get; } = new Dictionary<int, (string, int)>
    {
        [0] = ("<pad>", Control), [1] = ("<eos>", Control), [2] = ("<bos>", Control), [3] = ("<unk>", Unknown), [4] = ("<mask>", Control),
        [46] = ("<|tool>", Control), [47] = ("<tool|>", Control),
        [48] = ("<|tool_call>", UserDefined), [49] = ("<tool_call|>", UserDefined),
        [50] = ("<|tool_response>", UserDefined), [51] = ("<tool_response|>", UserDefined), [52] = ("<|\"|>", UserDefined),
        [98] = ("<|think|>", Control), [100] = ("<|channel>", UserDefined), [101] = ("<channel|>", UserDefined),
        [105] = ("<|turn>", Control), [106] = ("<turn|>", Control), [107] = ("\n", Normal),
    };

    private const int FirstByteId = 108;

    /// <summary>
    /// A vocabulary of exactly <paramref name="size"/> pieces: control tokens at their real ids, byte pieces
    /// <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c> from id 108, then printable characters, <c>▁</c>-words and fillers.
    /// </summary>
    public static SynthVocabulary BuiltIn(int size)
    {
        int minimum = FirstByteId + 256 + 1;
        if (size < minimum)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"The built-in vocabulary needs at least {minimum} pieces (control tokens and 256 byte pieces).");
        }
        var tokens = new string[size];
        var types = new int[size];
        for (int i = 0; i < FirstByteId; i++)
        {
            (tokens[i], types[i]) = ControlTokens.TryGetValue(i, out var t) ? t : ($"<unused{i}>", Unused);
        }
        for (int b = 0; b < 256; b++)
        {
            tokens[FirstByteId + b] = $"<0x{b:X2}>";
            types[FirstByteId + b] = Byte;
        }
        var used = new HashSet<string>(tokens.Take(FirstByteId + 256), StringComparer.Ordinal);
        var merges = new List<string>();
        int id = FirstByteId + 256;
        void Add(string piece)
        {
            if (id < size && used.Add(piece))
            {
                tokens[id] = piece;
                types[id++] = Normal;
            }
        }
        Add("▁");
        for (char ch = '!'; ch <= '~'; ch++) Add(ch.ToString());
        foreach (string word in new[] { "user", "model", "system", "thought", "call", "response", "declaration" })
        {
            Add("▁" + word);
            Add(word);
        }
        for (char ch = 'a'; ch <= 'z' && id < size; ch++)
        {
            Add("▁" + ch);
            merges.Add("▁ " + ch);
        }
        for (int n = 0; id < size; n++) Add("tok" + n.ToString(CultureInfo.InvariantCulture));
        return new SynthVocabulary(tokens, types, [.. merges]);
    }

    /// <summary>Writes the <c>tokenizer.ggml.*</c> keys llama.cpp's gemma4 vocabulary loader reads.</summary>
    public void WriteTo(GgufWriter w)
    {
        w.AddString("tokenizer.ggml.model", "gemma4");
        w.AddString("tokenizer.ggml.pre", "gemma4");
        w.AddStringArray("tokenizer.ggml.tokens", Tokens);
        var scores = new float[Count];
        for (int i = 0; i < scores.Length; i++) scores[i] = -i;
        w.AddArray<float>("tokenizer.ggml.scores", scores);
        w.AddArray<int>("tokenizer.ggml.token_type", Types);
        w.AddStringArray("tokenizer.ggml.merges", Merges);
        w.AddUInt32("tokenizer.ggml.bos_token_id", 2);
        w.AddUInt32("tokenizer.ggml.eos_token_id", 1);
        w.AddUInt32("tokenizer.ggml.unknown_token_id", 3);
        w.AddUInt32("tokenizer.ggml.padding_token_id", 0);
        w.AddBool("tokenizer.ggml.add_bos_token", true);
        w.AddBool("tokenizer.ggml.add_eos_token", false);
    }
}
