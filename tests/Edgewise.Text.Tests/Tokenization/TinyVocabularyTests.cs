using Edgewise.Text.Tokenization;
using Xunit;

namespace Edgewise.Text.Tests.Tokenization;

public sealed class TinyVocabularyTests
{
    [Fact]
    public void Gemma4Tiny_KeepsControlTokensAtRealIds()
    {
        GemmaTokenizer tiny = GemmaVocabularies.CreateTiny(4096, GemmaFlavour.Gemma4);
        Assert.Equal(4096, tiny.VocabularySize);
        (string, int)[] expected = [("<pad>", 0), ("<eos>", 1), ("<bos>", 2), ("<unk>", 3), ("<mask>", 4), ("<|tool>", 46), ("<tool|>", 47),
            ("<|tool_call>", 48), ("<tool_call|>", 49), ("<|tool_response>", 50), ("<tool_response|>", 51), ("<|\"|>", 52),
            ("<|think|>", 98), ("<|channel>", 100), ("<channel|>", 101), ("<|turn>", 105), ("<turn|>", 106), ("\n", 107), ("<0x00>", 238), ("<0xFF>", 493)];
        foreach ((string piece, int id) in expected)
            Assert.Equal(id, tiny.PieceToId(piece));
        Assert.Equal((2, 1, 0), (tiny.BosId, tiny.EosId, tiny.PadId));
        // Real ids past the vocabulary move to the top, highest real id last.
        Assert.Equal(4095, tiny.PieceToId("<|video|>"));
        Assert.NotNull(tiny.PieceToId("user"));
        Assert.True(tiny.IsSpecial(105));
        Assert.False(tiny.IsSpecial(48)); // tool-call delimiters are user-defined: visible in decoded text
    }

    [Fact]
    public void Gemma4Tiny_EncodesAChatPromptWithControlTokensAtomically()
    {
        GemmaTokenizer tiny = GemmaVocabularies.CreateTiny(4096, GemmaFlavour.Gemma4);
        string prompt = "<bos><|turn>user\nWhat is the capital of France?<turn|>\n<|turn>model\n";
        int[] ids = tiny.Encode(prompt);
        Assert.Equal([2, 105, tiny.PieceToId("user")!.Value, 107, tiny.PieceToId("What")!.Value, tiny.PieceToId("\u2581is")!.Value], ids[..6]);
        Assert.Equal(prompt, tiny.Decode(ids));
        Assert.DoesNotContain(3, ids); // nothing unknown: ASCII pieces and byte fallback cover it
    }

    [Theory]
    [InlineData(GemmaFlavour.Gemma4)]
    [InlineData(GemmaFlavour.Gemma3n)]
    public void Tiny_RoundTripsArbitraryTextThroughByteFallback(GemmaFlavour flavour)
    {
        GemmaTokenizer tiny = GemmaVocabularies.CreateTiny(1024, flavour);
        string text = "Grüße, 世界! 👨‍👩‍👧 the weather in Tokyo\t\n";
        int[] ids = tiny.Encode(text);
        Assert.Equal(text, tiny.Decode(ids));
        Assert.Contains(tiny.PieceToId("<0xC3>")!.Value, ids); // ü is not a piece: its UTF-8 bytes are
    }

    [Fact]
    public void Gemma3nTiny_UsesScoreMode_AndMergesWholeWords()
    {
        GemmaTokenizer tiny = GemmaVocabularies.CreateTiny(4096, GemmaFlavour.Gemma3n);
        Assert.Equal(TokenizerMergeMode.PieceScores, tiny.MergeMode);
        Assert.Equal(105, tiny.PieceToId("<start_of_turn>"));
        Assert.Equal([tiny.PieceToId("\u2581the")!.Value, tiny.PieceToId("\u2581weather")!.Value], tiny.Encode(" the weather"));
    }

    [Fact]
    public void CreateTiny_RejectsTooSmallSize()
        => Assert.Throws<ArgumentOutOfRangeException>(() => GemmaVocabularies.CreateTiny(100, GemmaFlavour.Gemma4));
}
