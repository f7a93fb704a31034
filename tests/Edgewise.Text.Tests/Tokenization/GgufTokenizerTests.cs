using Edgewise.Core.Formats.Gguf;
using Edgewise.Text.Tokenization;
using Xunit;

namespace Edgewise.Text.Tests.Tokenization;

/// <summary>The tokenizer written into GGUF metadata and read back tokenizes identically.</summary>
public sealed class GgufTokenizerTests
{
    [Theory]
    [InlineData("gemma4")] // explicit merge list: lossless by construction
    [InlineData("llama")]  // SentencePiece scores only, merged by llama.cpp's llm_tokenizer_spm rule
    public void Gemma3Vocabulary_ThroughGguf_GivesReferenceIdsOnEveryGoldenString(string model)
    {
        GemmaTokenizer original = ReferenceTokenizer.Gemma3;
        string path = Path.Combine(Path.GetTempPath(), $"edgewise-tokenizer-{Guid.NewGuid():N}.gguf");
        try
        {
            using (var writer = new GgufWriter(path))
            {
                writer.AddString("general.architecture", "gemma3");
                TokenizerGgufMetadata.From(original, chatTemplate: "{{ bos_token }}", model).WriteTo(writer);
                writer.Write();
            }
            using GgufFile gguf = GgufFile.Open(path);
            Assert.Equal(model, gguf.GetString(TokenizerGgufMetadata.ModelKey));
            GemmaTokenizer loaded = GemmaTokenizer.FromGguf(gguf);

            Assert.Equal(original.VocabularySize, loaded.VocabularySize);
            Assert.Equal(model == "llama" ? TokenizerMergeMode.PieceScores : TokenizerMergeMode.RankedMerges, loaded.MergeMode);
            Assert.Equal(original.SpecialIds, loaded.SpecialIds);
            Assert.Equal("{{ bos_token }}", loaded.ChatTemplate);
            foreach (GoldenCase golden in ReferenceTokenizer.Goldens)
                Assert.Equal(golden.Ids, loaded.Encode(golden.Text));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(GemmaFlavour.Gemma4, "gemma4")]
    [InlineData(GemmaFlavour.Gemma3n, "llama")]
    public void TinyVocabulary_RoundTripsThroughGguf(GemmaFlavour flavour, string expectedModel)
    {
        GemmaTokenizer tiny = GemmaVocabularies.CreateTiny(2048, flavour);
        string path = Path.Combine(Path.GetTempPath(), $"edgewise-tiny-{Guid.NewGuid():N}.gguf");
        try
        {
            using (var writer = new GgufWriter(path))
            {
                TokenizerGgufMetadata.From(tiny).WriteTo(writer);
                writer.Write();
            }
            using GgufFile gguf = GgufFile.Open(path);
            Assert.Equal(expectedModel, gguf.GetString(TokenizerGgufMetadata.ModelKey));
            GemmaTokenizer loaded = GemmaTokenizer.FromGguf(gguf);
            Assert.Equal(tiny.MergeMode, loaded.MergeMode);
            foreach (string text in new[] { "What is the capital of France?", "hello  world\n\n\tcall(tool)", "Zürich 😀 <0x41> 12345" })
                Assert.Equal(tiny.Encode(text), loaded.Encode(text));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Read_RejectsUnknownTokenizerModel_NamingTheKey()
    {
        string path = Path.Combine(Path.GetTempPath(), $"edgewise-bad-{Guid.NewGuid():N}.gguf");
        try
        {
            using (var writer = new GgufWriter(path))
            {
                writer.AddString(TokenizerGgufMetadata.ModelKey, "gpt2");
                writer.AddStringArray(TokenizerGgufMetadata.TokensKey, ["a", "b"]);
                writer.Write();
            }
            using GgufFile gguf = GgufFile.Open(path);
            var error = Assert.Throws<TokenizerFormatException>(() => GemmaTokenizer.FromGguf(gguf));
            Assert.Contains(TokenizerGgufMetadata.ModelKey, error.Message, StringComparison.Ordinal);
            Assert.Contains("gpt2", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
