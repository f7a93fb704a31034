using BenchmarkDotNet.Attributes;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Synthesis;

namespace Edgewise.Bench;

/// <summary>
/// Single-token decode of Gemma 3n's activation-sparse layers at E2B width (hidden 2048, ffn 8192): the FFN of one
/// layer dense vs sparse (Gaussian top-k at 0.95, ~5 % of units), and a whole decode step of a 12-layer E2B-width
/// model (10 sparse layers, 2 dense) with the sparse path on and off. The model is synthesized once per dtype.
/// Run: <c>dotnet run -c Release --project bench/Edgewise.Bench -- --filter *Gemma3nSparse*</c>.
/// </summary>
[MemoryDiagnoser]
public class Gemma3nSparseFfnBench
{
    private string _dir = "";
    private Gemma3nModel _model = null!;
    private Gemma3nState _state = null!;
    private WorkerPool _pool = null!;
    private float[] _u = [], _gate = [], _up = [], _out = [], _act = [], _upSel = [];
    private int[] _ids = [];
    private readonly float[] _logits = new float[1024];

    [Params("Q8_0", "Q4_0")]
    public string Dtype { get; set; } = "Q8_0";

    [GlobalSetup]
    public void Setup()
    {
        // Synthesized once and kept: every benchmark case runs this setup, and the file is the same for a dtype.
        _dir = Path.Combine(Path.GetTempPath(), "edgewise-bench-gemma3n");
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, $"e2b-width-12-layers-{Dtype}.gguf");
        GgmlType type = Dtype == "Q4_0" ? GgmlType.Q4_0 : GgmlType.Q8_0;
        if (!File.Exists(path)) Gemma3nGgufSynthesizer.Write(Gemma3nSynthSpec.Preset("e2b") with { Layers = 12, SharedKvLayers = 0, Vocab = 1024, Context = 512, Dtype = type }, path);
        _pool = new WorkerPool(Environment.ProcessorCount);
        _model = Gemma3nModel.Load(GgufFile.Open(path), new ModelLoadOptions { Pool = _pool });
        _model.Weights.EnsureSparseDowns();
        _state = _model.CreateGemma3nState(512);
        var prompt = new int[32];
        for (int i = 0; i < prompt.Length; i++) prompt[i] = 2 + i * 7 % 1000;
        _state.Forward(prompt, _logits);

        var rng = new Random(5);
        _u = new float[2048];
        for (int i = 0; i < _u.Length; i++) _u[i] = (float)(rng.NextDouble() * 2 - 1);
        _gate = new float[8192];
        _up = new float[8192];
        _out = new float[2048];
        _act = new float[8192];
        _upSel = new float[8192];
        _ids = new int[8192];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        _pool.Dispose();
    }

    private Gemma3nLayerWeights Layer => _model.Weights.Layers[0];

    /// <summary>gate, up, down: three full mat-vecs (what dense layers and prompt batches do).</summary>
    [Benchmark(Baseline = true)]
    public float FfnDense()
    {
        Gemma3nLayerWeights l = Layer;
        l.Gate.MatVec(_u, _gate, _pool);
        l.Up.MatVec(_u, _up, _pool);
        float cutoff = Cutoff(_gate);
        for (int i = 0; i < _gate.Length; i++) _gate[i] = MathF.Max(0f, _gate[i] - cutoff);
        RowMath.GeGlu(_gate, _up, _gate);
        l.Down.MatVec(_gate, _out, _pool);
        return _out[0];
    }

    /// <summary>Dense gate, then only surviving rows of up and of the transposed down.</summary>
    [Benchmark]
    public float FfnSparse()
    {
        Gemma3nLayerWeights l = Layer;
        l.Gate.MatVec(_u, _gate, _pool);
        float cutoff = Cutoff(_gate);
        int n = 0;
        for (int i = 0; i < _gate.Length; i++)
        {
            if (_gate[i] > cutoff)
            {
                _ids[n] = i;
                _act[n++] = _gate[i] - cutoff;
            }
        }
        RowMath.GeluInPlace(_act.AsSpan(0, n));
        l.Up.MatVecRows(_u, _ids.AsSpan(0, n), _upSel, _pool);
        for (int k = 0; k < n; k++) _act[k] *= _upSel[k];
        l.DownTransposed!.SumRows(_ids.AsSpan(0, n), _act.AsSpan(0, n), _out, _pool);
        return _out[0];
    }

    /// <summary>A whole decode step (12 layers, 10 of them sparse) on the sparse path.</summary>
    [Benchmark]
    public float DecodeStepSparse() => Step(sparse: true);

    /// <summary>The same step with every layer dense.</summary>
    [Benchmark]
    public float DecodeStepDense() => Step(sparse: false);

    private float Step(bool sparse)
    {
        _state.UseSparseDecode = sparse;
        int position = _state.Position;
        _state.Forward([17], _logits);
        _state.Truncate(position);
        return _logits[0];
    }

    private static float Cutoff(ReadOnlySpan<float> g)
    {
        double sum = 0, sq = 0;
        foreach (float v in g) sum += v;
        double mean = sum / g.Length;
        foreach (float v in g) sq += (v - mean) * (v - mean);
        return (float)(mean + Math.Sqrt(sq / g.Length) * 1.6448536);
    }
}
