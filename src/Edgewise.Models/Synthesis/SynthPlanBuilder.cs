using Edgewise.Core.Tensors;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// Collects a tensor plan with the initialisations and storage rules every architecture's plan shares: matrices in
/// the file type where rows hold whole blocks (llama-quantize's fallbacks otherwise), linear weights
/// U(±gain·sqrt(3/fan_in)), norms and small tensors in F32.
/// </summary>
internal sealed class SynthPlanBuilder(GgmlType dtype)
{
    public List<SynthTensor> Tensors { get; } = [];

    /// <summary>The storage type of a matrix with <paramref name="columns"/> values per row.</summary>
    public GgmlType MatrixType(long columns)
    {
        if (dtype is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16) return dtype;
        // Block types need whole blocks per row; llama-quantize falls back the same way.
        if (columns % GgmlTypeInfo.BlockSize(dtype) == 0) return dtype;
        return columns % 32 == 0 ? GgmlType.Q8_0 : GgmlType.F16;
    }

    public void Add(SynthTensor tensor) => Tensors.Add(tensor);

    /// <param name="stack">A third dimension when above 0 (stacked AltUp projections, experts).</param>
    public void Linear(string name, long inFeatures, long outFeatures, float gain = 1f, long stack = 0)
    {
        long[] shape = stack > 0 ? [inFeatures, outFeatures, stack] : [inFeatures, outFeatures];
        Tensors.Add(new SynthTensor(name, shape, MatrixType(inFeatures), SynthInit.Uniform, 0f, gain * MathF.Sqrt(3f / inFeatures), true));
    }

    public void Norm(string name, long n, float center = 1f, float spread = 0.2f) =>
        Tensors.Add(new SynthTensor(name, [n], GgmlType.F32, SynthInit.Uniform, center, spread * center));

    public void Small(string name, long[] shape, float amplitude) =>
        Tensors.Add(new SynthTensor(name, shape, GgmlType.F32, SynthInit.Uniform, 0f, amplitude));
}
