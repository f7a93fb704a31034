namespace Edgewise.Models.Common;

/// <summary>Attention kind of one decoder layer (HF <c>layer_types</c>: <c>sliding_attention</c> / <c>full_attention</c>).</summary>
public enum LayerKind : byte
{
    /// <summary>Local attention over the last <c>sliding_window</c> positions (the current one included).</summary>
    Sliding = 0,

    /// <summary>Causal attention over the whole context.</summary>
    Full = 1,
}
