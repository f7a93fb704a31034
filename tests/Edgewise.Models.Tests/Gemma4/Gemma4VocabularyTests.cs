using System.Text.Json;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary>The vocabulary a synthetic file carries: built in, or imported from an HF tokenizer.json; llama.cpp must accept both.</summary>
public sealed class Gemma4VocabularyTests
{
    [Fact]
    public void Built_in_vocabulary_has_the_control_tokens_at_their_ids_and_unique_pieces()
    {
        SynthVocabulary v = SynthVocabulary.BuiltIn(1000);
        Assert.Equal(1000, v.Count);
        Assert.Equal(v.Count, v.Tokens.Distinct(StringComparer.Ordinal).Count());
        foreach ((int id, (string piece, int type)) in SynthVocabulary.ControlTokens)
        {
            Assert.Equal(piece, v.Tokens[id]);
            Assert.Equal(type, v.Types[id]);
        }
        Assert.Equal("<0x0A>", v.Tokens[108 + 10]);
        Assert.Equal(SynthVocabulary.Byte, v.Types[108 + 10]);
        Assert.Throws<ArgumentOutOfRangeException>(() => SynthVocabulary.BuiltIn(300));
    }

    [Fact]
    public void Tokenizer_json_vocabulary_is_embedded_and_llama_cpp_accepts_it()
    {
        using var dir = new TempDirectory();
        SynthVocabulary source = SynthVocabulary.BuiltIn(600);
        var vocab = new Dictionary<string, int>();
        var added = new List<object>();
        for (int i = 0; i < source.Count; i++)
        {
            if (source.Types[i] is SynthVocabulary.Control or SynthVocabulary.UserDefined or SynthVocabulary.Unknown)
            {
                added.Add(new { id = i, content = source.Tokens[i], special = source.Types[i] != SynthVocabulary.UserDefined });
            }
            vocab[source.Tokens[i]] = i;
        }
        string json = JsonSerializer.Serialize(new { model = new { type = "BPE", vocab, merges = new[] { new[] { "▁", "a" }, new[] { "▁", "b" } } }, added_tokens = added });
        string tokenizerPath = dir.File("tokenizer.json");
        File.WriteAllText(tokenizerPath, json);

        SynthVocabulary imported = SynthVocabulary.FromTokenizerJson(tokenizerPath);
        Assert.Equal(source.Tokens, imported.Tokens);
        Assert.Equal(["▁ a", "▁ b"], imported.Merges);
        Assert.Equal(SynthVocabulary.Control, imported.Types[106]);
        Assert.Equal(SynthVocabulary.UserDefined, imported.Types[48]);

        string path = dir.File("imported.gguf");
        Gemma4GgufSynthesizer.Write(TestShapes.Moe with { Vocab = imported.Count }, path, imported);
        using (GgufFile f = GgufFile.Open(path)) Assert.Equal("<|turn>", f.GetStringArray("tokenizer.ggml.tokens")[105]);
        float[][] logits = LlamaReference.Logits(path, [2, 105, 400, 107]);
        Assert.Equal(4, logits.Length);
        Assert.Equal(600, logits[0].Length);
    }
}
