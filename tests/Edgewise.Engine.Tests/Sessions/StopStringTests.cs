using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Xunit;

namespace Edgewise.Engine.Tests.Sessions;

public sealed class StopStringTests : IClassFixture<SyntheticModel>
{
    private readonly EdgewiseModel _model;

    public StopStringTests(SyntheticModel synthetic) => _model = synthetic.Model;

    [Theory]
    [InlineData("hello STOP world", "STOP", "hello ")]
    [InlineData("abcab", "abd", "abcab")]
    [InlineData("xx<eot>", "<eot>", "xx")]
    [InlineData("aaaab", "aab", "aa")]
    public void Matcher_GivesTheSameTextForEverySplit(string text, string stop, string expected)
    {
        // Every way of cutting the text into two or three deltas.
        for (int i = 0; i <= text.Length; i++)
        {
            for (int j = i; j <= text.Length; j++)
            {
                var m = new StopStringMatcher([stop, "never-there"]);
                string shown = m.Push(text[..i]) + m.Push(text[i..j]) + m.Push(text[j..]);
                bool stopped = m.Matched is not null;
                shown += m.Flush();
                Assert.Equal(expected, shown);
                Assert.Equal(expected != text, stopped);
            }
        }
    }

    [Fact]
    public void Matcher_HoldsBackOnlyWhatCouldStartAStop()
    {
        var m = new StopStringMatcher(["END"]);
        Assert.Equal("abc", m.Push("abcE"));
        Assert.Equal(1, m.HeldLength);
        Assert.Equal("Ex", m.Push("x"));
        Assert.Equal("", m.Push("EN"));
        Assert.Equal("", m.Push("D and more"));
        Assert.Equal("END", m.Matched);
        Assert.Equal("", m.Push("later"));
    }

    [Fact]
    public async Task StopStringSplitAcrossTokens_EndsTheTurnBeforeIt()
    {
        // Greedy raw completion without stops, then again with a stop string made of the tail of one token and the
        // head of the next, so the stop only exists across a token boundary.
        var bias = _model.StopTokens.ToDictionary(id => id, _ => -1000f);
        var free = new GenerationOptions { Sampling = SamplingOptions.Greedy with { LogitBias = bias }, MaxTokens = 24 };
        using ChatSession session = _model.CreateSession(256);
        const string Prompt = "<|turn>user\nwrite something<turn|>\n<|turn>model\n";
        TurnResult full = await TurnResult.Of(session.CompleteAsync(Prompt, free));
        int promptTokens = full.Usage.PromptTokens;
        int[] generated = session.CachedTokens[promptTokens..].ToArray();

        string? stop = null;
        int stopAt = -1;
        int offset = 0;
        for (int i = 0; i + 1 < generated.Length && stop is null; i++)
        {
            string left = _model.Tokenizer.Decode([generated[i]]), right = _model.Tokenizer.Decode([generated[i + 1]]);
            offset += left.Length;
            if (left.Length == 0 || right.Length == 0) continue;
            string candidate = left[^1..] + right[..1];
            if (full.Text.IndexOf(candidate, StringComparison.Ordinal) == offset - 1)
            {
                stop = candidate;
                stopAt = offset - 1;
            }
        }
        Assert.True(stop is not null, $"no token boundary to put a stop string on in '{full.Text}'");

        TurnResult stopped = await TurnResult.Of(session.CompleteAsync(Prompt, free with { Stop = ["zzzz-not-there", stop!] }));
        Assert.Equal(full.Text[..stopAt], stopped.Text);
        Assert.Equal(FinishReason.Stop, stopped.Usage.FinishReason);
        Assert.Equal(stop, stopped.Usage.StopSequence);
        Assert.All(stopped.Updates, u => Assert.DoesNotContain(stop!, u.Text, StringComparison.Ordinal));
        Assert.True(stopped.Usage.CompletionTokens < full.Usage.CompletionTokens);
    }
}
