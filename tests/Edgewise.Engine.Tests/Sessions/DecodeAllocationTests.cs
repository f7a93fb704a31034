using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Xunit;

namespace Edgewise.Engine.Tests.Sessions;

/// <summary>The per-token cost of the generation loop is the decoded text, not buffers: logits, sampler and mask are reused.</summary>
public sealed class DecodeAllocationTests : IClassFixture<SyntheticModel>
{
    private readonly EdgewiseModel _model;

    public DecodeAllocationTests(SyntheticModel synthetic) => _model = synthetic.Model;

    /// <summary>
    /// Bytes allocated on this thread by the turn after its first update. The first MoveNext hops to the thread pool
    /// once; every later step runs synchronously inside MoveNextAsync on the caller's thread, so a per-thread counter
    /// sees exactly the loop's own allocations (not the test runner's).
    /// </summary>
    private async Task<long> AllocatedFor(ChatSession session, int tokens, GenerationOptions options)
    {
        int[] prompt = [_model.Tokenizer.BosId, .. _model.Tokenizer.Encode("count with me")];
        options = options with { MaxTokens = tokens };
        await foreach (GenerationUpdate _ in session.CompleteTokensAsync(prompt, options)) { }   // warm: JIT, grammar states
        await using IAsyncEnumerator<GenerationUpdate> e = session.CompleteTokensAsync(prompt, options).GetAsyncEnumerator();
        Assert.True(await e.MoveNextAsync());
        long before = GC.GetAllocatedBytesForCurrentThread();
        int count = 0;
        while (true)
        {
            ValueTask<bool> next = e.MoveNextAsync();
            Assert.True(next.IsCompletedSuccessfully, "steps after the first complete synchronously");
            if (!await next) break;   // already complete: continues synchronously on this thread
            if (e.Current.Kind == GenerationUpdateKind.Finished) count = e.Current.Usage!.CompletionTokens;
        }
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(tokens, count);
        return bytes;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PerTokenAllocation_IsOnlyTheTextDelta(bool constrained)
    {
        var noStops = _model.StopTokens.ToDictionary(id => id, _ => float.NegativeInfinity);
        var options = new GenerationOptions
        {
            Sampling = new SamplingOptions { Seed = 1, TopK = 40, TopP = 0.9f, LogitBias = noStops },
            // At least 40 strings cannot fit in 72 tokens, so every run yields exactly the tokens asked for.
            ResponseFormat = constrained ? ResponseFormat.ForSchema("""{"type":"array","items":{"type":"string","maxLength":4},"minItems":40}""") : ResponseFormat.Text,
        };
        using ChatSession session = _model.CreateSession(256);
        long shortRun = await AllocatedFor(session, 8, options);
        long longRun = await AllocatedFor(session, 72, options);
        double perToken = (longRun - shortRun) / 64.0;
        // A delta string (a few chars: ~30-40 bytes) plus amortised list growth; a copied logits row alone would be 4 KiB.
        Assert.True(perToken < 160, $"{perToken:F0} bytes per token (8 tokens: {shortRun} B, 72 tokens: {longRun} B)");
    }
}
