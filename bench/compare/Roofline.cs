using Edgewise.Core.Formats.Gguf;

namespace Edgewise.Compare;

/// <summary>
/// Bytes a decode step must read: every matrix once, one row of the token and PLE tables, the output head in full
/// (the tied token embedding when the file has no <c>output.weight</c>), plus the KV cache at the mean decode
/// position (F32, as Edgewise keeps it).
/// </summary>
internal static class Roofline
{
    public static long DecodeBytesPerToken(string path, int meanPosition)
    {
        using GgufFile file = GgufFile.Open(path);
        string arch = file.GetString("general.architecture");
        long total = 0;
        bool hasOutput = false;
        foreach (GgufTensorInfo t in file.Tensors)
        {
            bool table = t.Name is "token_embd.weight" or "per_layer_token_embd.weight";
            long rows = t.Shape.Length > 1 ? t.ElementCount / t.Shape[0] : 1;
            total += table ? t.ByteSize / rows : t.ByteSize;
            hasOutput |= t.Name == "output.weight";
        }
        if (!hasOutput) total += file.GetTensorInfo("token_embd.weight").ByteSize;

        int layers = file.GetInt32(arch + ".block_count"), shared = file.GetInt32OrDefault(arch + ".attention.shared_kv_layers", 0);
        int window = file.GetInt32OrDefault(arch + ".attention.sliding_window", int.MaxValue);
        int keyFull = file.GetInt32(arch + ".attention.key_length");
        int keySliding = file.GetInt32OrDefault(arch + ".attention.key_length_swa", keyFull);
        bool[] sliding = file.TryGetValue(arch + ".attention.sliding_window_pattern", out GgufValue? pattern) && pattern.Type == GgufValueType.Array
            ? pattern.AsArray<bool>() : new bool[layers];
        int kvHeads = file.TryGetValue(arch + ".attention.head_count_kv", out GgufValue? kv) && kv.Type != GgufValueType.Array ? (int)kv.AsUInt32() : 1;
        for (int i = 0; i < layers - shared; i++)
        {
            int span = sliding[i] ? Math.Min(window, meanPosition) : meanPosition;
            total += 2L * span * kvHeads * (sliding[i] ? keySliding : keyFull) * sizeof(float);
        }
        return total;
    }
}
