using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;

namespace Edgewise.Models.Common;

/// <summary>Typed, checked reads of the architecture keys every config parser needs, with errors naming file and key.</summary>
internal static class GgufConfigReader
{
    /// <summary>Throws unless <c>general.architecture</c> is <paramref name="expected"/>.</summary>
    public static void RequireArchitecture(GgufFile file, string expected)
    {
        string arch = file.GetStringOrDefault("general.architecture") ?? "";
        if (arch != expected)
        {
            throw ModelErrors.Field(file.FilePath, "general.architecture", expected, arch.Length == 0 ? "nothing" : arch);
        }
    }

    public static int RequiredInt(GgufFile file, string key)
    {
        if (!file.TryGetValue(key, out GgufValue? value))
        {
            throw ModelErrors.Field(file.FilePath, key, "an integer", "nothing");
        }
        return value.AsInt32();
    }

    /// <summary>A per-layer integer that converters write either as one scalar or as an array of one value per layer.</summary>
    public static int[] PerLayerInt(GgufFile file, string key, int layers)
    {
        if (!file.TryGetValue(key, out GgufValue? value))
        {
            throw ModelErrors.Field(file.FilePath, key, "an integer or a per-layer array", "nothing");
        }
        var result = new int[layers];
        if (value.Type != GgufValueType.Array)
        {
            Array.Fill(result, value.AsInt32());
            return result;
        }
        if (value.ArrayLength != layers)
        {
            throw ModelErrors.Field(file.FilePath, key, $"{layers} entries", value.ArrayLength.ToString());
        }
        switch (value.ElementType)
        {
            case GgufValueType.Int32:
                value.AsSpan<int>().CopyTo(result);
                break;
            case GgufValueType.UInt32:
                ReadOnlySpan<uint> u = value.AsSpan<uint>();
                for (int i = 0; i < layers; i++) result[i] = checked((int)u[i]);
                break;
            default:
                throw ModelErrors.Field(file.FilePath, key, "an Int32 or UInt32 array", $"an array of {value.ElementType}");
        }
        return result;
    }

    /// <summary>A float array of exactly one value per layer.</summary>
    public static float[] PerLayerFloat(GgufFile file, string key, int layers)
    {
        if (!file.TryGetValue(key, out GgufValue? value) || value.Type != GgufValueType.Array || value.ElementType != GgufValueType.Float32)
        {
            throw ModelErrors.Field(file.FilePath, key, $"a Float32 array of {layers} entries", value is null ? "nothing" : value.Describe());
        }
        if (value.ArrayLength != layers)
        {
            throw ModelErrors.Field(file.FilePath, key, $"{layers} entries", value.ArrayLength.ToString());
        }
        return value.AsArray<float>();
    }

    /// <summary>Layer kinds from <c>{arch}.attention.sliding_window_pattern</c> (one bool per layer, true = sliding).</summary>
    public static LayerKind[] SlidingPattern(GgufFile file, string key, int layers)
    {
        if (!file.TryGetValue(key, out GgufValue? pattern) || pattern.Type != GgufValueType.Array || pattern.ElementType != GgufValueType.Bool)
        {
            throw ModelErrors.Field(file.FilePath, key, "a bool array (true = sliding)", "nothing");
        }
        bool[] sliding = pattern.AsArray<bool>();
        if (sliding.Length != layers)
        {
            throw ModelErrors.Field(file.FilePath, key, $"{layers} entries", sliding.Length.ToString());
        }
        var kinds = new LayerKind[layers];
        for (int i = 0; i < layers; i++) kinds[i] = sliding[i] ? LayerKind.Sliding : LayerKind.Full;
        return kinds;
    }

    public static TensorView Tensor(GgufFile file, string name)
    {
        if (!file.TryGetTensor(name, out TensorView view))
        {
            throw ModelErrors.Field(file.FilePath, name, "a tensor", "no such tensor");
        }
        return view;
    }
}
