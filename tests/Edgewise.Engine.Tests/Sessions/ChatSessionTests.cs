using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Edgewise.Text.Chat;
using Xunit;

namespace Edgewise.Engine.Tests.Sessions;

public sealed class ChatSessionTests : IClassFixture<SyntheticModel>
{
    private static readonly GenerationOptions Greedy = new() { Sampling = SamplingOptions.Greedy, MaxTokens = 12 };
    private readonly EdgewiseModel _model;

    public ChatSessionTests(SyntheticModel synthetic) => _model = synthetic.Model;

    private static List<ChatMessage> FirstTurn() =>
    [
        ChatMessage.System("You are a terse assistant. Answer in one word. " + string.Concat(Enumerable.Repeat("Rules: be brief. ", 12))),
        ChatMessage.User("hello there"),
    ];

    [Fact]
    public async Task PrefixReuse_GivesTheColdStartTokens_AndPrefillsOnlyTheNewTokens()
    {
        using ChatSession warm = _model.CreateSession(512);
        List<ChatMessage> messages = FirstTurn();
        TurnResult first = await TurnResult.Of(warm.GenerateAsync(messages, Greedy));
        Assert.Equal(0, first.Usage.CachedTokens);
        Assert.Equal(first.Usage.PromptTokens, first.Usage.PrefilledTokens);

        messages.Add(ChatMessage.Assistant(first.Text));
        messages.Add(ChatMessage.User("and what else"));
        int[] secondPrompt = warm.TokenizePrompt(messages, Greedy);
        int expectedReuse = warm.CachedTokens.CommonPrefixLength(secondPrompt);
        Assert.True(expectedReuse > first.Usage.PromptTokens / 2, $"the second prompt should extend the first; common prefix {expectedReuse}");

        TurnResult second = await TurnResult.Of(warm.GenerateAsync(messages, Greedy));
        int[] warmCache = warm.CachedTokens.ToArray();

        using ChatSession cold = _model.CreateSession(512);
        TurnResult coldSecond = await TurnResult.Of(cold.GenerateAsync(messages, Greedy));

        Assert.Equal(secondPrompt.Length, second.Usage.PromptTokens);
        Assert.Equal(expectedReuse, second.Usage.CachedTokens);
        Assert.Equal(secondPrompt.Length - expectedReuse, second.Usage.PrefilledTokens);
        Assert.Equal(0, coldSecond.Usage.CachedTokens);
        Assert.Equal(coldSecond.Text, second.Text);
        Assert.Equal(coldSecond.Usage.CompletionTokens, second.Usage.CompletionTokens);
        Assert.Equal(cold.CachedTokens.ToArray(), warmCache);
    }

    [Fact]
    public async Task SamePromptTwice_ReusesAllButTheLastToken()
    {
        using ChatSession session = _model.CreateSession(512);
        TurnResult a = await TurnResult.Of(session.GenerateAsync(FirstTurn(), Greedy));
        TurnResult b = await TurnResult.Of(session.GenerateAsync(FirstTurn(), Greedy));
        Assert.Equal(a.Usage.PromptTokens - 1, b.Usage.CachedTokens);
        Assert.Equal(1, b.Usage.PrefilledTokens);
        Assert.Equal(a.Text, b.Text);
    }

    [Fact]
    public async Task SeededSampling_IsReproducible()
    {
        GenerationOptions Seeded(ulong seed) => new() { Sampling = new SamplingOptions { Temperature = 1f, TopK = 50, Seed = seed }, MaxTokens = 24 };
        using ChatSession one = _model.CreateSession(512);
        using ChatSession two = _model.CreateSession(512);
        TurnResult a = await TurnResult.Of(one.GenerateAsync(FirstTurn(), Seeded(42)));
        TurnResult b = await TurnResult.Of(two.GenerateAsync(FirstTurn(), Seeded(42)));
        TurnResult again = await TurnResult.Of(one.GenerateAsync(FirstTurn(), Seeded(42)));
        TurnResult other = await TurnResult.Of(two.GenerateAsync(FirstTurn(), Seeded(43)));
        Assert.Equal(a.Text, b.Text);
        Assert.Equal(a.Text, again.Text);
        Assert.True(a.Usage.CompletionTokens > 3, $"too short to compare: '{a.Text}'");
        Assert.NotEqual(a.Text + a.Usage.CompletionTokens, other.Text + other.Usage.CompletionTokens);

        // A prompt tokenized by the caller (a server picking a session) gives the same turn as the messages.
        using ChatSession three = _model.CreateSession(512);
        TurnResult fromTokens = await TurnResult.Of(three.GenerateFromPromptAsync(three.TokenizePrompt(FirstTurn()), Seeded(42)));
        Assert.Equal(a.Text, fromTokens.Text);
        Assert.Equal(a.Usage.PromptTokens, fromTokens.Usage.PromptTokens);
    }

    [Fact]
    public async Task Cancellation_StopsBeforeTheNextToken_AndLeavesTheSessionUsable()
    {
        using ChatSession session = _model.CreateSession(512);
        using var cts = new CancellationTokenSource();
        // Free sampling, no cap: only the cancellation can end this turn early.
        var options = new GenerationOptions { Sampling = new SamplingOptions { Seed = 5 } };
        int cachedAtCancel = -1, updates = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (GenerationUpdate u in session.GenerateAsync(FirstTurn(), options, cts.Token))
            {
                Assert.NotEqual(GenerationUpdateKind.Finished, u.Kind);
                if (++updates == 3)
                {
                    cachedAtCancel = session.CachedTokens.Length;
                    cts.Cancel();
                }
            }
        });
        Assert.True(updates >= 3);
        Assert.Equal(cachedAtCancel, session.CachedTokens.Length);

        // A cancelled prefill runs nothing at all.
        using ChatSession fresh = _model.CreateSession(512);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (GenerationUpdate _ in fresh.GenerateAsync(FirstTurn(), options, new CancellationToken(canceled: true))) { }
        });
        Assert.Equal(0, fresh.CachedTokens.Length);

        TurnResult after = await TurnResult.Of(session.GenerateAsync(FirstTurn(), Greedy));
        Assert.True(after.Usage.CachedTokens > 0);
    }

    [Fact]
    public async Task ContextOverflow_IsATypedError_OrDropsOldTurnsWhenAsked()
    {
        using ChatSession session = _model.CreateSession(96);
        var messages = new List<ChatMessage> { ChatMessage.System("be brief") };
        for (int i = 0; i < 6; i++)
        {
            messages.Add(ChatMessage.User("question number " + i + " about something long enough"));
            messages.Add(ChatMessage.Assistant("answer " + i));
        }
        messages.Add(ChatMessage.User("last question"));
        int promptTokens = session.TokenizePrompt(messages).Length;
        Assert.True(promptTokens > 96);

        var error = await Assert.ThrowsAsync<ContextOverflowException>(async () => await TurnResult.Of(session.GenerateAsync(messages, Greedy)));
        Assert.Equal(promptTokens, error.PromptTokens);
        Assert.Equal(96, error.ContextLength);

        TurnResult dropped = await TurnResult.Of(session.GenerateAsync(messages, Greedy with { OverflowPolicy = ContextOverflowPolicy.DropOldestMessages }));
        Assert.InRange(dropped.Usage.PromptTokens, 1, 95);
        string kept = session.Model.Tokenizer.Decode(session.CachedTokens[..dropped.Usage.PromptTokens]);
        Assert.Contains("be brief", kept, StringComparison.Ordinal);
        Assert.Contains("last question", kept, StringComparison.Ordinal);
        Assert.DoesNotContain("question number 0", kept, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MaxTokens_EndsWithLength()
    {
        using ChatSession session = _model.CreateSession(512);
        var options = new GenerationOptions { Sampling = SamplingOptions.Greedy, MaxTokens = 3 };
        // Bias away every end-of-turn token so only the cap can end the turn.
        var bias = _model.StopTokens.ToDictionary(id => id, _ => -1000f);
        TurnResult r = await TurnResult.Of(session.GenerateAsync(FirstTurn(), options with { Sampling = SamplingOptions.Greedy with { LogitBias = bias } }));
        Assert.Equal(FinishReason.Length, r.Usage.FinishReason);
        Assert.Equal(3, r.Usage.CompletionTokens);
    }
}
