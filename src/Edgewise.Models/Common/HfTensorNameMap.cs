namespace Edgewise.Models.Common;

/// <summary>
/// GGUF tensor name → Hugging Face name (without the <c>model.</c> / <c>model.language_model.</c> prefix) from two
/// tables: whole names of the global tensors, and per-block suffixes (<c>blk.{i}.{suffix}</c> ↔
/// <c>layers.{i}.{hf}</c>). An architecture states only its tables; the name parsing is shared.
/// </summary>
internal sealed class HfTensorNameMap
{
    private readonly Dictionary<string, string> _global;
    private readonly Dictionary<string, string> _block;

    public HfTensorNameMap(IEnumerable<KeyValuePair<string, string>> global, IEnumerable<KeyValuePair<string, string>> block)
    {
        _global = new Dictionary<string, string>(global, StringComparer.Ordinal);
        _block = new Dictionary<string, string>(block, StringComparer.Ordinal);
    }

    /// <summary>This map with <paramref name="block"/> added to its block suffixes (an architecture's own tensors).</summary>
    public HfTensorNameMap WithBlock(IEnumerable<KeyValuePair<string, string>> block) => new(_global, _block.Concat(block));

    /// <summary>The HF name of <paramref name="ggufName"/>, or null for a tensor the tables do not name.</summary>
    public string? ToHf(string ggufName)
    {
        if (_global.TryGetValue(ggufName, out string? global)) return global;
        if (!ggufName.StartsWith("blk.", StringComparison.Ordinal)) return null;
        int dot = ggufName.IndexOf('.', 4);
        if (dot < 0) return null;
        string layer = ggufName[4..dot];
        return _block.TryGetValue(ggufName[(dot + 1)..], out string? suffix) ? $"layers.{layer}.{suffix}" : null;
    }
}
