using Edgewise.Core.Formats.Safetensors;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;

namespace Edgewise.Models.Conversion;

/// <summary>
/// The text-model tensors of an HF checkpoint under its prefix (<c>model.language_model.</c> for multimodal saves,
/// <c>model.</c> for text-only ones), with shape checks that name the tensor, and a record of what was used so the
/// converter can report the rest.
/// </summary>
internal sealed class HfTensors
{
    private static readonly string[] Prefixes = ["model.language_model.", "model.", ""];
    // Multimodal towers and RoPE buffers live beside the text model; text conversion skips them silently.
    private static readonly string[] NotText = ["vision_tower.", "audio_tower.", "embed_vision.", "embed_audio.", "multi_modal_projector.", "rotary_emb."];
    private readonly SafetensorsCheckpoint _checkpoint;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public HfTensors(SafetensorsCheckpoint checkpoint)
    {
        _checkpoint = checkpoint;
        foreach (string prefix in Prefixes)
        {
            if (checkpoint.ContainsTensor(prefix + "embed_tokens.weight"))
            {
                Prefix = prefix;
                return;
            }
        }
        throw ModelErrors.Field(checkpoint.Path, "embed_tokens.weight", "under model.language_model., model. or no prefix", "no such tensor");
    }

    public string Prefix { get; } = "";

    public string Path => _checkpoint.Path;

    public bool Has(string hfName) => _checkpoint.ContainsTensor(Prefix + hfName);

    /// <summary>The tensor <paramref name="hfName"/> (without prefix), checked against a ggml shape.</summary>
    public TensorView Get(string hfName, long[] ggmlShape)
    {
        if (!_checkpoint.TryGetTensor(Prefix + hfName, out TensorView view))
        {
            throw ModelErrors.Field(Path, Prefix + hfName, $"a tensor of HF shape [{Describe(ggmlShape)}]", "no such tensor");
        }
        if (!SameShape(view.Shape, ggmlShape))
        {
            throw ModelErrors.Field(Path, Prefix + hfName, $"HF shape [{Describe(ggmlShape)}]", $"[{Describe(view.Shape)}]");
        }
        _used.Add(Prefix + hfName);
        return view;
    }

    /// <summary>A tensor's view without a shape check or marking it used (config look-ups).</summary>
    public TensorView Peek(string hfName) => _checkpoint.GetTensor(Prefix + hfName);

    /// <summary>Marks a tensor as deliberately not converted (e.g. unused K/V of KV-shared layers).</summary>
    public void Skip(string hfName) => _used.Add(Prefix + hfName);

    /// <summary>Text-model tensors nobody asked for.</summary>
    public List<string> Unused()
    {
        var unused = new List<string>();
        foreach (SafetensorsTensorInfo t in _checkpoint.Tensors)
        {
            if (!t.Name.StartsWith(Prefix, StringComparison.Ordinal) || _used.Contains(t.Name)) continue;
            string rest = t.Name[Prefix.Length..];
            bool other = false;
            foreach (string p in NotText) other |= rest.StartsWith(p, StringComparison.Ordinal) || rest.Contains("." + p, StringComparison.Ordinal);
            // A text-only prefix ("model.") also covers a multimodal checkpoint's language_model; skip those too.
            if (!other && !rest.StartsWith("language_model.", StringComparison.Ordinal) && rest != "lm_head.weight") unused.Add(t.Name);
        }
        return unused;
    }

    private static bool SameShape(long[] a, long[] b)
    {
        int na = a.Length, nb = b.Length;
        // A [1] parameter may be saved as a scalar (shape []).
        while (na > 0 && a[na - 1] == 1) na--;
        while (nb > 0 && b[nb - 1] == 1) nb--;
        if (na != nb) return false;
        for (int i = 0; i < na; i++) if (a[i] != b[i]) return false;
        return true;
    }

    /// <summary>A ggml shape written in HF (reversed) order.</summary>
    private static string Describe(long[] ggml)
    {
        var reversed = new long[ggml.Length];
        for (int i = 0; i < ggml.Length; i++) reversed[i] = ggml[ggml.Length - 1 - i];
        return string.Join(", ", reversed);
    }
}
