using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;
using Edgewise.Models.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary><see cref="Gemma4Model.ForwardBatch"/>: several sequences in one pass equal each one advanced alone.</summary>
public sealed class Gemma4BatchDecodeTests(ITestOutputHelper output)
{
    private static ModelLoadOptions Options => new() { Threads = 2, MaxBatch = 8 };

    /// <summary>
    /// The matmul kernels round activations row by row (Q8_0/Q4_0 files) and attention runs per row, so a batch row
    /// does the same arithmetic as a single step; the bound is the same for every weight type.
    /// </summary>
    [Theory]
    [InlineData("e", GgmlType.F32, KvCacheType.F32)]
    [InlineData("e", GgmlType.Q4_0, KvCacheType.F32)]
    [InlineData("e", GgmlType.F32, KvCacheType.F16)]
    [InlineData("moe", GgmlType.F32, KvCacheType.F32)]
    [InlineData("moe", GgmlType.Q8_0, KvCacheType.F32)]
    public void Batched_steps_equal_each_sequence_alone(string shape, GgmlType dtype, KvCacheType kv)
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.ByName(shape), dtype);
        using var model = (Gemma4Model)Architectures.Load(path, Options with { KvCacheType = kv });
        Assert.Equal(8, model.MaxBatchSequences);
        using var h = new BatchDecodeHarness(model, BatchDecodeScenario.PromptLengths, contextLength: 64, seed: 21);
        var probe = (Gemma4State)h.Batched(2);
        Assert.True(probe.Cache.Layer(0).IsRing && probe.Cache.Layer(0).Capacity < probe.Position);   // the ring has wrapped

        BatchDecodeScenario.Run(h);

        output.WriteLine($"{shape} {dtype} KV {kv}: {h.Rows} rows, max |Δ| {h.MaxAbs:E3}, argmax mismatches {h.ArgmaxMismatches}");
        Assert.True(h.MaxAbs <= 1e-4, $"max |Δ| {h.MaxAbs:E3}");
        Assert.Equal(0, h.ArgmaxMismatches);
    }

    [Fact]
    public void Rejects_bad_batches_and_leaves_every_state_unchanged()
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.EModel, GgmlType.F32);
        using var model = (Gemma4Model)Architectures.Load(path, new ModelLoadOptions { Threads = 1, MaxBatch = 3 });
        using var other = (Gemma4Model)Architectures.Load(path, new ModelLoadOptions { Threads = 1, MaxBatch = 3 });
        int vocab = model.Info.VocabularySize;
        using Gemma4State a = model.CreateGemma4State(32), b = model.CreateGemma4State(32), c = model.CreateGemma4State(32);
        using Gemma4State full = model.CreateGemma4State(4), foreign = other.CreateGemma4State(32), d = model.CreateGemma4State(32);
        var logits = new float[4 * vocab];
        a.Forward([2, 5, 7], logits);
        full.Forward([2, 5, 7, 9], logits);

        var e1 = Assert.Throws<ArgumentException>(() => model.ForwardBatch([a, foreign], [1, 2], logits));
        Assert.Contains("states[1]", e1.Message);
        Assert.Contains("another model", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => model.ForwardBatch([a, b, a], [1, 2, 3], logits));
        Assert.Contains("states[0] and states[2] are the same sequence", e2.Message);
        var e3 = Assert.Throws<InvalidOperationException>(() => model.ForwardBatch([a, full], [1, 2], logits));
        Assert.Contains("states[1] is full", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => model.ForwardBatch([a, b, c, d], [1, 2, 3, 4], logits));
        Assert.Contains("at most 3", e4.Message);
        Assert.Throws<ArgumentException>(() => model.ForwardBatch([a, b], [1], logits));
        Assert.Throws<ArgumentException>(() => model.ForwardBatch([a, b], [1, 2], logits.AsSpan(0, vocab + 1)));
        Assert.Throws<ArgumentException>(() => model.ForwardBatch([], [], logits));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardBatch([a, b], [1, vocab], logits));

        Assert.Equal((3, 0, 0, 4), (a.Position, b.Position, c.Position, full.Position));
        Assert.Equal((3, 0, 4), (a.Cache.Length, b.Cache.Length, full.Cache.Length));

        // The rejected calls left nothing behind: a good batch still equals single steps from the same history.
        using Gemma4State twinA = model.CreateGemma4State(32), twinB = model.CreateGemma4State(32);
        twinA.Forward([2, 5, 7], logits);
        model.ForwardBatch([a, b], [11, 13], logits);
        var single = new float[vocab];
        twinA.Forward([11], single);
        Assert.Equal(single, logits.AsSpan(0, vocab).ToArray());
        twinB.Forward([13], single);
        Assert.Equal(single, logits.AsSpan(vocab, vocab).ToArray());
    }

    [Fact]
    public void Batched_decode_steps_do_not_allocate()
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.Moe, GgmlType.F32);
        using var model = (Gemma4Model)Architectures.Load(path, Options);
        IModelState[] states = [model.CreateState(64), model.CreateState(64), model.CreateState(64)];
        int vocab = model.Info.VocabularySize;
        var logits = new float[states.Length * vocab];
        for (int i = 0; i < states.Length; i++) states[i].Forward(TestShapes.Tokens(4 + 3 * i, vocab, seed: i), logits);
        int[] tokens = [5, 6, 7];
        for (int i = 0; i < 4; i++) model.ForwardBatch(states, tokens, logits);   // warm up (JIT, tiering)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) model.ForwardBatch(states, tokens, logits);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        foreach (IModelState s in states) s.Dispose();
        Assert.True(allocated < 1024, $"{allocated} bytes allocated over 20 batched steps");
    }
}
