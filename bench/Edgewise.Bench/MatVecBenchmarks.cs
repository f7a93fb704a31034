using BenchmarkDotNet.Attributes;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;

namespace Edgewise.Bench;

/// <summary>
/// Matrix-vector products at Gemma 4 E2B shapes (rows x columns = out x in): FFN down 1536x6144, FFN up/gate
/// 6144x1536, output head 262144x1536. The GB/s column is weight bytes streamed per second.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GigabytesPerSecondConfig))]
public class MatVecBenchmarks
{
    private BenchWeights? _weights;
    private WorkerPool? _pool;
    private float[] _x = [];
    private float[] _y = [];

    [Params(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K)]
    public GgmlType Format { get; set; }

    [Params("1536x6144", "6144x1536", "262144x1536")]
    public string Shape { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (int rows, int columns) = ParseShape(Shape);
        _weights = new BenchWeights(Format, rows, columns);
        _pool = new WorkerPool(Threads);
        _x = new float[columns];
        var rng = new Random(1);
        for (int i = 0; i < columns; i++) _x[i] = (float)(rng.NextDouble() * 2 - 1);
        _y = new float[rows];
    }

    [Benchmark]
    public void MatVec() => _weights!.Matrix.MatVec(_x, _y, _pool!);

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        _weights?.Dispose();
    }

    internal static (int Rows, int Columns) ParseShape(string shape)
    {
        string[] parts = shape.Split('x');
        return (int.Parse(parts[0]), int.Parse(parts[1]));
    }
}
