using Edgewise.Text.Tokenization;
using Xunit;

namespace Edgewise.Text.Tests.Tokenization;

/// <summary>Merge-order and matching rules on hand-built vocabularies where the right answer is known by hand.</summary>
public sealed class TokenizerBehaviourTests
{
    private static GemmaTokenizer Build(string[] pieces, (string, string)[]? merges, float[]? scores = null, TokenType[]? types = null)
        => GemmaTokenizer.FromVocabulary(pieces, scores ?? [], types ?? [], merges);

    [Fact]
    public void RankedMerges_LowestRankFirst_LeftmostOnTies()
    {
        string[] pieces = ["<unk>", "a", "b", "aa", "ab", "aab"];
        // "aab": rank 0 (a,a) fires before rank 1 (a,b), giving "aa"+"b" -> "aab".
        var tokenizer = Build(pieces, [("a", "a"), ("a", "b"), ("aa", "b")]);
        Assert.Equal([5], tokenizer.Encode("aab"));
        // "aaa": equal ranks at positions 0 and 1; the leftmost wins -> "aa" "a".
        Assert.Equal([3, 1], tokenizer.Encode("aaa"));
        // Reversed ranks: (a,b) first -> "a" "ab" and no merge (a,ab) exists.
        var reversed = Build(pieces, [("a", "b"), ("a", "a"), ("aa", "b")]);
        Assert.Equal([1, 4], reversed.Encode("aab"));
    }

    [Fact]
    public void PieceScores_HighestScoreFirst_LikeLlamaCppSpm()
    {
        string[] pieces = ["<unk>", "a", "b", "c", "ab", "bc"];
        var preferBc = Build(pieces, null, scores: [0, 0, 0, 0, -2, -1]);
        Assert.Equal([1, 5], preferBc.Encode("abc"));
        var preferAb = Build(pieces, null, scores: [0, 0, 0, 0, -1, -2]);
        Assert.Equal([4, 3], preferAb.Encode("abc"));
    }

    [Fact]
    public void AtomicTokens_LongestMatchWins_AndSplitSurroundingText()
    {
        string[] pieces = ["<unk>", "<a>", "<ab>", "x", "<", ">", "a", "b"];
        TokenType[] types = [TokenType.Unknown, TokenType.Control, TokenType.UserDefined, TokenType.Normal, TokenType.Normal, TokenType.Normal, TokenType.Normal, TokenType.Normal];
        var tokenizer = Build(pieces, [], types: types);
        Assert.Equal([3, 2, 3, 1, 4, 6], tokenizer.Encode("x<ab>x<a><a"));
        Assert.True(tokenizer.IsSpecial(1));
        Assert.False(tokenizer.IsSpecial(2));
        Assert.Equal("x<ab>", tokenizer.Decode([3, 2, 1], skipSpecial: true));
    }

    [Fact]
    public void ByteFallback_LoneSurrogateBecomesReplacementCharacterBytes()
    {
        var pieces = new List<string> { "<unk>", "\u2581" };
        for (int b = 0; b < 256; b++)
            pieces.Add($"<0x{b:X2}>");
        var tokenizer = Build([.. pieces], []);
        Assert.Equal([2 + 0xEF, 2 + 0xBF, 2 + 0xBD], tokenizer.Encode("\uD800"));
        Assert.Equal([1, 2 + 0xF0, 2 + 0x9F, 2 + 0x98, 2 + 0x80], tokenizer.Encode(" 😀"));
        Assert.Equal(" 😀", tokenizer.Decode(tokenizer.Encode(" 😀")));
    }

    [Fact]
    public void IncrementalDecoder_HoldsBackAnUnfinishedCharacter()
    {
        var pieces = new List<string> { "<unk>", "\u2581hi" };
        for (int b = 0; b < 256; b++)
            pieces.Add($"<0x{b:X2}>");
        var tokenizer = Build([.. pieces], []);
        var decoder = tokenizer.CreateIncrementalDecoder();
        Assert.Equal(" hi", decoder.Add(1));
        Assert.Equal("", decoder.Add(2 + 0xF0));
        Assert.Equal("", decoder.Add(2 + 0x9F));
        Assert.Equal(2, decoder.PendingByteCount);
        Assert.Equal("", decoder.Add(2 + 0x98));
        Assert.Equal("😀", decoder.Add(2 + 0x80));
        // A lead byte followed by a non-continuation can never complete: both come out at once.
        Assert.Equal("", decoder.Add(2 + 0xE2));
        Assert.Equal("\uFFFD hi", decoder.Add(1));
        Assert.Equal("", decoder.Add(2 + 0xC3));
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal(0, decoder.PendingByteCount);
    }

    [Fact]
    public void FromVocabulary_RejectsMergeWhosePartsAreNotPieces()
    {
        var error = Assert.Throws<TokenizerFormatException>(() => Build(["a", "b"], [("a", "c")]));
        Assert.Contains("merges[0]", error.Message, StringComparison.Ordinal);
    }
}
