using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Edgewise.Text.Chat;
using Xunit;

namespace Edgewise.Engine.Tests.Sessions;

/// <summary>A scripted Gemma 4 turn that thinks, then answers: reasoning tokens are counted, log-probs reported per token.</summary>
public sealed class ReasoningAndLogprobsTests : IClassFixture<SyntheticModel>
{
    private readonly EdgewiseModel _synthetic;

    public ReasoningAndLogprobsTests(SyntheticModel synthetic) => _synthetic = synthetic.Model;

    [Fact]
    public async Task ThinkingTurn_CountsItsChannelTokens_AndReportsEachTokensLogprob()
    {
        var tokenizer = _synthetic.Tokenizer;
        int open = tokenizer.PieceToId("<|channel>") ?? throw new InvalidOperationException("no <|channel> piece");
        int close = tokenizer.PieceToId("<channel|>") ?? throw new InvalidOperationException("no <channel|> piece");
        int endOfTurn = tokenizer.PieceToId("<turn|>") ?? throw new InvalidOperationException("no <turn|> piece");
        int[] thought = tokenizer.Encode("thought\nThe user greets me.");
        int[] answer = tokenizer.Encode("Hello there");
        int[] script = [open, .. thought, close, .. answer, endOfTurn];

        List<ChatMessage> messages = [new ChatMessage(ChatRole.User, "hi")];
        var options = new GenerationOptions { EnableThinking = true, Sampling = new SamplingOptions { Temperature = 0f, LogProbs = true, TopLogProbs = 2 } };
        int promptLength = _synthetic.CreateSession(128).TokenizePrompt(messages, options).Length;
        using var model = new EdgewiseModel(new ScriptedLanguageModel(_synthetic.Info.VocabularySize, promptLength, script), tokenizer);
        using ChatSession session = model.CreateSession(128);

        TurnResult turn = await TurnResult.Of(session.GenerateAsync(messages, options));

        Assert.Equal("Hello there", turn.Text);
        Assert.Equal("The user greets me.", turn.Reasoning.Trim());
        Assert.Equal(script.Length, turn.Usage.CompletionTokens);
        // The channel's markup and thinking text, not the answer nor the end-of-turn token.
        Assert.Equal(1 + thought.Length + 1, turn.Usage.ReasoningTokens);

        var logprobs = turn.Updates.Where(u => u.Kind == GenerationUpdateKind.Logprobs).Select(u => u.Logprobs!).ToList();
        Assert.Equal(script[..^1], logprobs.Select(l => l.TokenId));   // every token but the closing end-of-turn
        double expected = new ScriptedLanguageModel(_synthetic.Info.VocabularySize, 0, []).ScriptLogProb;
        foreach (SampledTokenLogprobs l in logprobs)
        {
            Assert.Equal(expected, l.LogProb, 4);
            Assert.Equal(2, l.Top.Count);
            Assert.Equal(l.TokenId, l.Top[0].Id);
            Assert.Equal(-Math.Log(Math.Exp(ScriptedLanguageModel.Peak) + _synthetic.Info.VocabularySize - 1), l.Top[1].LogProb, 4);
        }
        // Each Logprobs update comes before the text its token leads to.
        int firstText = turn.Updates.ToList().FindIndex(u => u.Kind == GenerationUpdateKind.Text);
        Assert.Equal(GenerationUpdateKind.Logprobs, turn.Updates[firstText - 1].Kind);
    }
}
