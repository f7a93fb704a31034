using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;
using Edgewise.Models.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary>Edgewise against itself: prompt batches, chunked prompts and single decode steps give the same logits.</summary>
public sealed class Gemma4StateTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData("e")]
    [InlineData("moe")]
    [InlineData("odd")]
    public void Prompt_batch_equals_token_by_token(string shape)
    {
        Gemma4SynthSpecFile file = Gemma4SynthSpecFile.Create(shape);
        using var _ = file;
        int[] tokens = TestShapes.Tokens(40, file.Spec.Vocab, seed: 7);
        int vocab = file.Spec.Vocab;

        float[][] batch = TestShapes.EdgewiseLogits(file.Path, tokens);

        using var model = (Gemma4Model)Architectures.Load(file.Path, new ModelLoadOptions { Threads = 2, MaxBatch = 7 });
        using Gemma4State state = model.CreateGemma4State(64);
        var step = new float[vocab];
        double max = 0;
        for (int i = 0; i < tokens.Length; i++)
        {
            state.Forward(tokens.AsSpan(i, 1), step);
            for (int v = 0; v < vocab; v++) max = Math.Max(max, Math.Abs(step[v] - batch[i][v]));
        }
        output.WriteLine($"{shape}: batch vs token-by-token max |Δ| {max:E3}");
        Assert.True(max <= Tolerance, $"max |Δ| {max}");
        Assert.Equal(tokens.Length, state.Position);
    }

    [Fact]
    public void Chunked_prompt_with_last_row_only_equals_full_batch_and_ring_wraps()
    {
        using Gemma4SynthSpecFile file = Gemma4SynthSpecFile.Create("e");
        int[] tokens = TestShapes.Tokens(45, file.Spec.Vocab, seed: 8);   // > sliding window 16
        float[][] all = TestShapes.EdgewiseLogits(file.Path, tokens);

        using var model = (Gemma4Model)Architectures.Load(file.Path, new ModelLoadOptions { Threads = 1, MaxBatch = 6 });
        using Gemma4State state = model.CreateGemma4State(64);
        Assert.True(state.Cache.Layer(0).IsRing);
        Assert.Equal(16 + 6 - 1, state.Cache.Layer(0).Capacity);
        Assert.False(state.Cache.OwnsStorage(model.Config.FirstSharedLayer));
        var last = new float[file.Spec.Vocab];
        state.Forward(tokens, last);   // KV-shared layers only see the last row here
        double max = 0;
        for (int v = 0; v < last.Length; v++) max = Math.Max(max, Math.Abs(last[v] - all[^1][v]));
        Assert.True(max <= Tolerance, $"max |Δ| {max}");
    }

    [Fact]
    public void Truncate_then_replay_reproduces_the_logits()
    {
        using Gemma4SynthSpecFile file = Gemma4SynthSpecFile.Create("dense");
        int[] tokens = TestShapes.Tokens(30, file.Spec.Vocab, seed: 9);
        using var model = (Gemma4Model)Architectures.Load(file.Path, new ModelLoadOptions { Threads = 2, MaxBatch = 8 });
        using Gemma4State state = model.CreateGemma4State(64);
        var first = new float[file.Spec.Vocab];
        var again = new float[file.Spec.Vocab];
        state.Forward(tokens, first);
        Assert.True(state.CanTruncate(27));
        Assert.False(state.CanTruncate(5));   // the sliding ring (16 + 8 - 1) no longer holds position 5's window
        state.Truncate(27);
        state.Forward(tokens.AsSpan(27), again);
        Assert.Equal(first, again);
    }

    [Fact]
    public void F16_kv_cache_stays_close_to_F32()
    {
        using Gemma4SynthSpecFile file = Gemma4SynthSpecFile.Create("e");
        int[] tokens = TestShapes.Tokens(24, file.Spec.Vocab, seed: 10);
        float[][] f32 = TestShapes.EdgewiseLogits(file.Path, tokens);
        float[][] f16 = TestShapes.EdgewiseLogits(file.Path, tokens, new ModelLoadOptions { Threads = 2, KvCacheType = KvCacheType.F16 });
        LogitComparison c = LogitComparison.Compare(f32, f16, tieMargin: 0.05);
        output.WriteLine($"F16 vs F32 KV: {c}");
        Assert.True(c.MaxAbs < 0.05 && c.MaxAbs > 0, c.ToString());
    }
}

/// <summary>A test shape written as an F32 GGUF into its own temp directory.</summary>
internal sealed class Gemma4SynthSpecFile : IDisposable
{
    private readonly TempDirectory _dir = new();

    private Gemma4SynthSpecFile(string shape)
    {
        Spec = TestShapes.ByName(shape);
        Path = TestShapes.Write(_dir, Spec, GgmlType.F32);
    }

    public Synthesis.Gemma4SynthSpec Spec { get; }
    public string Path { get; }

    public static Gemma4SynthSpecFile Create(string shape) => new(shape);

    public void Dispose() => _dir.Dispose();
}

/// <summary>The decode loop allocates nothing per token once warm.</summary>
public sealed class Gemma4AllocationTests
{
    [Theory]
    [InlineData("e")]
    [InlineData("moe")]
    public void Decode_steps_do_not_allocate(string shape)
    {
        using Gemma4SynthSpecFile file = Gemma4SynthSpecFile.Create(shape);
        using var model = (Gemma4Model)Architectures.Load(file.Path, new ModelLoadOptions { Threads = 2 });
        using Gemma4State state = model.CreateGemma4State(64);
        int[] tokens = TestShapes.Tokens(40, file.Spec.Vocab, seed: 3);
        var logits = new float[file.Spec.Vocab];
        state.Forward(tokens.AsSpan(0, 8), logits);
        for (int i = 8; i < 12; i++) state.Forward(tokens.AsSpan(i, 1), logits);   // warm up (JIT, tiering)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 12; i < 40; i++) state.Forward(tokens.AsSpan(i, 1), logits);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1024, $"{allocated} bytes allocated over 28 decode steps");
    }
}
