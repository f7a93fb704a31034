using System.Text;
using Edgewise.Engine.Constraints;
using Edgewise.Engine.Sampling;
using Xunit;

namespace Edgewise.Engine.Tests.Constraints;

public sealed class TokenMaskTests
{
    private static bool Bit(ulong[] mask, int id) => (mask[id >> 6] & (1UL << (id & 63))) != 0;

    /// <summary>The trie walk (with subtree pruning and cached masks) against asking the matcher about every token.</summary>
    [Theory]
    [InlineData("""{"type":"object","properties":{"name":{"type":"string","maxLength":6},"n":{"type":"number"},"tags":{"type":"array","items":{"enum":["a","b"]}}},"required":["name","n"]}""")]
    [InlineData("""{"anyOf":[{"type":"integer"},{"type":"array","items":{"type":"string"},"maxItems":2},{"type":"null"}]}""")]
    [InlineData("tools")]
    public void TrieWalkMask_EqualsBruteForcePerTokenCheck(string schema)
    {
        var tokenizer = ConstrainedRun.Tokenizer.Value;
        var grammar = ConstrainedRun.Compile(schema == "tools"
            ? GemmaToolCallGrammar.Create([new ToolFunction("get_weather", System.Text.Json.JsonDocument.Parse("""{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}""").RootElement)], ToolChoice.Auto)
            : JsonSchemaGrammar.FromSchema(schema));
        var mask = new ulong[grammar.MaskWords];
        for (ulong seed = 0; seed < 6; seed++)
        {
            var matcher = grammar.CreateMatcher();
            var random = new Xoshiro256StarStar(seed);
            for (int step = 0; step < 25 && !matcher.IsTerminated; step++)
            {
                matcher.ComputeMask(mask);
                var allowed = new List<int>();
                for (int id = 0; id < tokenizer.VocabularySize; id++)
                {
                    bool brute = matcher.IsAllowed(id);
                    Assert.True(brute == Bit(mask, id), $"seed {seed} step {step}: token '{tokenizer.TokenPiece(id)}' mask {Bit(mask, id)} brute force {brute}");
                    if (brute)
                        allowed.Add(id);
                }
                Assert.NotEmpty(allowed);
                Assert.True(matcher.Accept(allowed[(int)(random.NextUInt64() % (ulong)allowed.Count)]));
            }
        }
    }

    [Fact]
    public void IntegerPosition_AllowsOnlyTokensThatContinueAnInteger()
    {
        var tokenizer = ConstrainedRun.Tokenizer.Value;
        var grammar = ConstrainedRun.Compile(JsonSchemaGrammar.FromSchema("""{"type":"object","properties":{"age":{"type":"integer"}},"required":["age"]}""", new JsonGrammarOptions { MaxWhitespace = 1 }));
        var matcher = grammar.CreateMatcher();
        Assert.True(matcher.AcceptBytes(Encoding.UTF8.GetBytes("{\"age\":")));
        var mask = new ulong[grammar.MaskWords];
        matcher.ComputeMask(mask);
        for (int id = 0; id < tokenizer.VocabularySize; id++)
        {
            if (!Bit(mask, id))
                continue;
            string piece = tokenizer.Decode([id]);
            Assert.Matches(@"^\s?(-|-?(0|[1-9][0-9]*)(\s?[,}].*|\s)?)?$", piece);
            Assert.False(piece.Contains('.', StringComparison.Ordinal) || piece.Contains('"', StringComparison.Ordinal), piece);
        }
        Assert.True(Bit(mask, tokenizer.Id("12")));
        Assert.True(Bit(mask, tokenizer.Id("-1")));
        Assert.False(Bit(mask, tokenizer.Id("3.14")));
        Assert.False(Bit(mask, tokenizer.Id("007")));  // no leading zeros in JSON
        Assert.False(Bit(mask, tokenizer.EosId));      // not complete yet
        Assert.True(matcher.AcceptBytes("7}"u8));
        matcher.ComputeMask(mask);
        Assert.True(Bit(mask, tokenizer.EosId));
        Assert.True(matcher.IsComplete || matcher.CanEnd);
    }

    [Fact]
    public void Rollback_Clone_Reset_RestoreEarlierStates()
    {
        var tokenizer = ConstrainedRun.Tokenizer.Value;
        var grammar = ConstrainedRun.Compile(JsonSchemaGrammar.FromSchema("""{"enum":["red","green"]}"""));
        var matcher = grammar.CreateMatcher();
        Assert.True(matcher.Accept(tokenizer.Id("\"")));
        var fork = matcher.Clone();
        Assert.True(matcher.Accept(tokenizer.Id("red")));
        Assert.False(matcher.Accept(tokenizer.Id("green")));
        Assert.True(fork.Accept(tokenizer.Id("green")));
        matcher.Rollback(1);
        Assert.True(matcher.Accept(tokenizer.Id("green")));
        Assert.True(matcher.Accept(tokenizer.Id("\"")));
        Assert.True(matcher.CanEnd);
        Assert.True(matcher.Accept(tokenizer.EosId));
        Assert.True(matcher.IsTerminated);
        Assert.False(matcher.Accept(tokenizer.Id("\"")));
        matcher.Reset();
        Assert.Equal(0, matcher.StepCount);
        Assert.False(matcher.CanEnd);
    }

    [Fact]
    public void MaskedSampling_NeverPicksAForbiddenToken_EvenWithHugeBias()
    {
        var tokenizer = ConstrainedRun.Tokenizer.Value;
        var grammar = ConstrainedRun.Compile(JsonSchemaGrammar.FromSchema("""{"type":"boolean"}""", new JsonGrammarOptions { MaxWhitespace = 0 }));
        var bias = new Dictionary<int, float> { [tokenizer.Id("null")] = 1e6f, [tokenizer.Id("{")] = 1e6f };
        var sampler = new Sampler(tokenizer.VocabularySize, new SamplingOptions { Seed = 3, LogitBias = bias });
        var mask = new ulong[grammar.MaskWords];
        var matcher = grammar.CreateMatcher();
        var tokens = new List<int>();
        while (!matcher.IsTerminated)
        {
            matcher.ComputeMask(mask);
            int id = sampler.Sample(new float[tokenizer.VocabularySize], tokens.ToArray(), mask).Id;
            Assert.True(matcher.Accept(id));
            if (!matcher.IsTerminated)
                tokens.Add(id);
        }
        Assert.Contains(tokenizer.Decode(tokens.ToArray()), new[] { "true", "false" });
    }
}
