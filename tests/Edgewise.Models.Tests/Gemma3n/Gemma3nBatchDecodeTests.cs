using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Gemma3n;

/// <summary><see cref="Gemma3nModel.ForwardBatch"/>: several sequences in one pass equal each one advanced alone.</summary>
public sealed class Gemma3nBatchDecodeTests(ITestOutputHelper output)
{
    private static Gemma3nModel Load(string path, int maxBatch) =>
        Gemma3nModel.Load(GgufFile.Open(path), new ModelLoadOptions { Threads = 2, MaxBatch = maxBatch }, Gemma3nOptions.Default);

    /// <summary>
    /// Sparse decode on (the default) on both sides: a batch of up to <see cref="Gemma3nState.SparseDecodeMaxRows"/>
    /// takes the per-row sparse FFN, the same arithmetic as a single step, so the bound is the same for every weight
    /// type.
    /// </summary>
    [Theory]
    [InlineData("small", GgmlType.F32)]
    [InlineData("small", GgmlType.Q4_0)]
    [InlineData("wide", GgmlType.F32)]
    public void Batched_steps_equal_each_sequence_alone(string shape, GgmlType dtype)
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.ByName(shape);
        string path = Gemma3nTestShapes.Write(dir, spec, dtype);
        using Gemma3nModel model = Load(path, maxBatch: 8);
        Assert.Equal(8, model.MaxBatchSequences);
        using var h = new BatchDecodeHarness(model, BatchDecodeScenario.PromptLengths, contextLength: 64, seed: 22);
        var probe = (Gemma3nState)h.Batched(2);
        Assert.True(probe.UseSparseDecode);
        Assert.True(probe.Cache.Layer(0).IsRing && probe.Cache.Layer(0).Capacity < probe.Position);   // the ring has wrapped

        BatchDecodeScenario.Run(h);

        output.WriteLine($"{shape} {dtype}: {h.Rows} rows, max |Δ| {h.MaxAbs:E3}, argmax mismatches {h.ArgmaxMismatches}");
        Assert.True(h.MaxAbs <= 1e-4, $"max |Δ| {h.MaxAbs:E3}");
        Assert.Equal(0, h.ArgmaxMismatches);
    }

    [Fact]
    public void A_batch_runs_every_row_through_the_first_states_sparse_ffn()
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.Small;
        string path = Gemma3nTestShapes.Write(dir, spec, GgmlType.F32);
        using Gemma3nModel model = Load(path, maxBatch: 8);
        using Gemma3nState a = model.CreateGemma3nState(32), b = model.CreateGemma3nState(32), c = model.CreateGemma3nState(32);
        var logits = new float[3 * spec.Vocab];
        a.Forward([2, 9], logits);
        model.ForwardBatch([a, b, c], [4, 5, 6], logits);
        SparseFfnTraffic t = a.LastSparseTraffic;
        // Ten sparse layers, three rows, all in the first state's run; the others ran nothing.
        Assert.Equal(10 * spec.Ffn * 3, t.Units);
        Assert.InRange((double)t.SurvivingUnits / t.Units, 0.01, 0.15);
        Assert.True(t.BytesRead < t.DenseBytes / 2, $"{t.BytesRead} of {t.DenseBytes} dense bytes read");
        Assert.Equal(default, b.LastSparseTraffic);
        Assert.Equal((3, 1, 1), (a.Position, b.Position, c.Position));
    }

    /// <summary>Above <see cref="Gemma3nState.SparseDecodeMaxRows"/> rows the FFN runs dense: F32 keeps it within the sparse path's rounding.</summary>
    [Fact]
    public void A_batch_larger_than_the_sparse_limit_takes_the_dense_ffn_and_still_matches()
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.Small;
        string path = Gemma3nTestShapes.Write(dir, spec, GgmlType.F32);
        int b = Gemma3nState.SparseDecodeMaxRows + 1;
        using Gemma3nModel model = Load(path, maxBatch: b);
        int[] prompts = new int[b];
        for (int i = 0; i < b; i++) prompts[i] = 1 + 3 * i;
        using var h = new BatchDecodeHarness(model, prompts, contextLength: 48, seed: 23);
        int[] all = new int[b];
        for (int i = 0; i < b; i++) all[i] = b - 1 - i;
        for (int step = 0; step < 3; step++) h.Step(all);
        SparseFfnTraffic t = ((Gemma3nState)h.Batched(b - 1)).LastSparseTraffic;
        Assert.Equal(t.DenseBytes, t.BytesRead);   // dense: every unit read
        output.WriteLine($"B = {b}: max |Δ| {h.MaxAbs:E3}, argmax mismatches {h.ArgmaxMismatches}");
        Assert.True(h.MaxAbs <= 1e-4, $"max |Δ| {h.MaxAbs:E3}");
        Assert.Equal(0, h.ArgmaxMismatches);
    }

    [Fact]
    public void Batched_sparse_decode_steps_do_not_allocate()
    {
        using var dir = new TempDirectory();
        string path = Gemma3nTestShapes.Write(dir, Gemma3nTestShapes.Small, GgmlType.F32);
        using Gemma3nModel model = Load(path, maxBatch: 4);
        IModelState[] states = [model.CreateState(64), model.CreateState(64), model.CreateState(64)];
        int vocab = model.Info.VocabularySize;
        var logits = new float[states.Length * vocab];
        for (int i = 0; i < states.Length; i++) states[i].Forward(TestShapes.Tokens(2 + 5 * i, vocab, seed: i), logits);
        int[] tokens = [5, 6, 7];
        for (int i = 0; i < 4; i++) model.ForwardBatch(states, tokens, logits);   // warm up (JIT, tiering)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) model.ForwardBatch(states, tokens, logits);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(((Gemma3nState)states[0]).LastSparseTraffic.SurvivingUnits > 0);   // the sparse path ran
        foreach (IModelState s in states) s.Dispose();
        Assert.True(allocated < 1024, $"{allocated} bytes allocated over 10 batched steps");
    }

    [Fact]
    public void Rejects_a_state_of_another_architecture_or_model()
    {
        using var dir = new TempDirectory();
        string path = Gemma3nTestShapes.Write(dir, Gemma3nTestShapes.Small, GgmlType.F32);
        string path4 = TestShapes.Write(dir, TestShapes.Moe, GgmlType.F32);
        using Gemma3nModel model = Load(path, maxBatch: 4);
        using ILanguageModel gemma4 = Architectures.Load(path4, new ModelLoadOptions { Threads = 1, MaxBatch = 4 });
        using IModelState mine = model.CreateState(16), theirs = gemma4.CreateState(16);
        var logits = new float[2 * Math.Max(model.Info.VocabularySize, gemma4.Info.VocabularySize)];
        var e = Assert.Throws<ArgumentException>(() => model.ForwardBatch([mine, theirs], [1, 2], logits));
        Assert.Contains("states[1] is a Gemma4State made by another model", e.Message);
        e = Assert.Throws<ArgumentException>(() => gemma4.ForwardBatch([theirs, mine], [1, 2], logits));
        Assert.Contains("states[1] is a Gemma3nState", e.Message);
        Assert.Equal((0, 0), (mine.Position, theirs.Position));
    }
}
