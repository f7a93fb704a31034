using System.Text.Json;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Edgewise.Text.Tokenization;

namespace Edgewise.Models.Tests.Conversion;

/// <summary>
/// A synthetic Hugging Face checkpoint as a release ships it: config.json + model.safetensors (from
/// <see cref="Gemma4SafetensorsSynthesizer"/>), a tokenizer.json holding the built-in test vocabulary, and a
/// chat_template.jinja.
/// </summary>
internal static class HfCheckpointFixture
{
    public const string ChatTemplate = "{{ bos_token }}{% for m in messages %}<|turn>{{ m['role'] }}\n{{ m['content'] }}<turn|>\n{% endfor %}";

    /// <summary>A shape whose rows are whole 256-value blocks, so K-quant rules (not only their fallbacks) apply.</summary>
    public static Gemma4SynthSpec KQuant { get; } = new()
    {
        Name = "test-kquant", Hidden = 256, Layers = 8, Vocab = 2048, Heads = 2, KvHeads = 1, KvHeadsFull = 1, HeadDim = 128, HeadDimFull = 256,
        Ffn = 256, DoubleWideMlp = true, Ple = 64, SharedKvLayers = 4, FullEvery = 4, SlidingWindow = 16, Context = 256, Seed = 31,
    };

    /// <returns>The checkpoint directory.</returns>
    public static string Write(TempDirectory dir, Gemma4SynthSpec spec)
    {
        string hf = dir.File("hf-" + spec.Name);
        Gemma4SafetensorsSynthesizer.Write(spec, hf);
        WriteTokenizerFiles(hf, spec.Vocab);
        return hf;
    }

    /// <summary>tokenizer.json with the built-in vocabulary of <paramref name="vocab"/> pieces, and chat_template.jinja.</summary>
    public static void WriteTokenizerFiles(string hf, int vocab)
    {
        WriteTokenizerJson(SynthVocabulary.BuiltIn(vocab), Path.Combine(hf, "tokenizer.json"));
        File.WriteAllText(Path.Combine(hf, "chat_template.jinja"), ChatTemplate);
    }

    /// <summary>The tokenizer.* writer the CLI builds (ConvertCommand.TokenizerWriter), from the same Edgewise.Text calls.</summary>
    public static Action<GgufWriter, int> TokenizerWriter(string hf)
    {
        GemmaTokenizer tokenizer = GemmaTokenizer.FromTokenizerJson(Path.Combine(hf, "tokenizer.json"));
        TokenizerGgufMetadata metadata = TokenizerGgufMetadata.From(tokenizer, File.ReadAllText(Path.Combine(hf, "chat_template.jinja")));
        return (writer, vocab) =>
        {
            if (metadata.Tokens.Length != vocab) throw new InvalidOperationException($"tokenizer {metadata.Tokens.Length} vs vocab {vocab}");
            metadata.WriteTo(writer);
        };
    }

    /// <summary>A Gemma-shaped tokenizer.json: BPE with byte fallback, Replace(" " → "▁"), control pieces as added tokens.</summary>
    private static void WriteTokenizerJson(SynthVocabulary v, string path)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var added = new List<object>();
        for (int id = 0; id < v.Count; id++)
        {
            vocab.TryAdd(v.Tokens[id], id);
            int type = v.Types[id];
            if (type is SynthVocabulary.Control or SynthVocabulary.UserDefined or SynthVocabulary.Unknown or SynthVocabulary.Unused)
            {
                added.Add(new Dictionary<string, object>
                {
                    ["id"] = id, ["content"] = v.Tokens[id], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                    ["normalized"] = false, ["special"] = type != SynthVocabulary.UserDefined,
                });
            }
        }
        var root = new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = new Dictionary<string, object> { ["type"] = "Replace", ["pattern"] = new Dictionary<string, string> { ["String"] = " " }, ["content"] = "\u2581" },
            ["pre_tokenizer"] = null,
            ["model"] = new Dictionary<string, object>
            {
                ["type"] = "BPE", ["byte_fallback"] = true, ["unk_token"] = "<unk>", ["vocab"] = vocab,
                ["merges"] = v.Merges.Select(m => m.Split(' ')).ToArray(),
            },
        };
        File.WriteAllText(path, JsonSerializer.Serialize(root));
    }
}
