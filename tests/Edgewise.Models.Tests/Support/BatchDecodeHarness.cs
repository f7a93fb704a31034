using Edgewise.Models.Common;
using Xunit;

namespace Edgewise.Models.Tests.Support;

/// <summary>
/// Two identical sets of sequences of one model, prompted to different lengths: one set advanced by
/// <see cref="ILanguageModel.ForwardBatch"/>, the twin of each advanced alone by <see cref="IModelState.Forward"/>.
/// Every step compares the two sets' logits and positions; the worst difference is kept for the test to bound.
/// </summary>
internal sealed class BatchDecodeHarness : IDisposable
{
    private readonly ILanguageModel _model;
    private readonly IModelState[] _alone, _batched;
    private readonly int _vocab;
    private readonly Random _random;

    public BatchDecodeHarness(ILanguageModel model, int[] promptLengths, int contextLength, int seed)
    {
        _model = model;
        _vocab = model.Info.VocabularySize;
        _random = new Random(seed);
        _alone = new IModelState[promptLengths.Length];
        _batched = new IModelState[promptLengths.Length];
        var logits = new float[_vocab];
        for (int i = 0; i < promptLengths.Length; i++)
        {
            int[] prompt = TestShapes.Tokens(promptLengths[i], _vocab, seed + 100 + i);
            _alone[i] = model.CreateState(contextLength);
            _batched[i] = model.CreateState(contextLength);
            _alone[i].Forward(prompt, logits);
            _batched[i].Forward(prompt, logits);
        }
    }

    public double MaxAbs { get; private set; }
    public int ArgmaxMismatches { get; private set; }
    public int Rows { get; private set; }

    public IModelState Batched(int index) => _batched[index];

    public int Position(int index) => _batched[index].Position;

    /// <summary>One <c>ForwardBatch</c> over the sequences at <paramref name="indices"/> (in that order) against single steps of their twins.</summary>
    public void Step(params int[] indices)
    {
        int b = indices.Length;
        var states = new IModelState[b];
        var tokens = new int[b];
        for (int i = 0; i < b; i++)
        {
            states[i] = _batched[indices[i]];
            tokens[i] = _random.Next(_vocab);
        }
        var logits = new float[b * _vocab];
        logits.AsSpan().Fill(float.NaN);   // every row must be written
        _model.ForwardBatch(states, tokens, logits);
        var single = new float[_vocab];
        for (int i = 0; i < b; i++)
        {
            IModelState alone = _alone[indices[i]];
            alone.Forward(tokens.AsSpan(i, 1), single);
            Assert.Equal(alone.Position, states[i].Position);
            Compare(single, logits.AsSpan(i * _vocab, _vocab));
        }
    }

    /// <summary>Several tokens through plain <c>Forward</c> on both twins of sequence <paramref name="index"/>.</summary>
    public void ForwardBoth(int index, int count)
    {
        int[] tokens = TestShapes.Tokens(count, _vocab, _random.Next());
        float[] a = new float[_vocab], b = new float[_vocab];
        _alone[index].Forward(tokens, a);
        _batched[index].Forward(tokens, b);
        Assert.Equal(_alone[index].Position, _batched[index].Position);
        Compare(a, b);
    }

    /// <summary>Rolls both twins of sequence <paramref name="index"/> back to <paramref name="position"/>.</summary>
    public void TruncateBoth(int index, int position)
    {
        _alone[index].Truncate(position);
        _batched[index].Truncate(position);
    }

    private void Compare(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double max = 0;
        int ea = 0, aa = 0;
        for (int v = 0; v < expected.Length; v++)
        {
            double d = Math.Abs(expected[v] - actual[v]);
            max = Math.Max(max, double.IsNaN(d) ? double.PositiveInfinity : d);
            if (expected[v] > expected[ea]) ea = v;
            if (actual[v] > actual[aa]) aa = v;
        }
        MaxAbs = Math.Max(MaxAbs, max);
        if (ea != aa) ArgmaxMismatches++;
        Rows++;
    }

    public void Dispose()
    {
        foreach (IModelState s in _alone) s.Dispose();
        foreach (IModelState s in _batched) s.Dispose();
    }
}
