using System.Diagnostics.CodeAnalysis;

namespace Edgewise.Hub;

/// <summary>A short name for a hub repository plus the quantization (or exact file) pulled by default.</summary>
public sealed record ModelAlias(string Name, string Repository, string Quant, string? File, string Note);

/// <summary>
/// The built-in aliases. Each entry points at a public GGUF repository; the file is normally picked from the
/// hub's listing by <see cref="ModelAlias.Quant"/>, so a renamed file inside the repository still resolves.
/// </summary>
public static class ModelAliases
{
    private static readonly ModelAlias[] All =
    [
        // Google's own quantization-aware-trained Q4_0 GGUFs for Gemma 4 (the weights llama.cpp's CPU numbers
        // are quoted against). File names follow "gemma-4-E2B_q4_0-it.gguf"; the repo also holds an
        // "-mmproj.gguf" vision projector, which the selector skips.
        new("gemma-4-e2b", "google/gemma-4-E2B-it-qat-q4_0-gguf", "Q4_0", null, "Gemma 4 E2B instruct, Google QAT Q4_0"),
        new("gemma-4-e4b", "google/gemma-4-E4B-it-qat-q4_0-gguf", "Q4_0", null, "Gemma 4 E4B instruct, Google QAT Q4_0"),
        new("gemma-4-26b-a4b", "google/gemma-4-26B-A4B-it-qat-q4_0-gguf", "Q4_0", null, "Gemma 4 26B-A4B MoE instruct, Google QAT Q4_0"),
        new("gemma-4-31b", "google/gemma-4-31B-it-qat-q4_0-gguf", "Q4_0", null, "Gemma 4 31B instruct, Google QAT Q4_0"),
        // Google published no GGUF for Gemma 3n; unsloth's repos are the widely used ones and carry a plain
        // Q4_0 ("gemma-3n-E4B-it-Q4_0.gguf") next to K-quants, so the default matches Gemma 4's block format.
        new("gemma-3n-e2b", "unsloth/gemma-3n-E2B-it-GGUF", "Q4_0", null, "Gemma 3n E2B instruct, unsloth Q4_0"),
        new("gemma-3n-e4b", "unsloth/gemma-3n-E4B-it-GGUF", "Q4_0", null, "Gemma 3n E4B instruct, unsloth Q4_0"),
    ];

    /// <summary>Every alias, in table order.</summary>
    public static IReadOnlyList<ModelAlias> Entries => All;

    /// <summary>Alias names, for help text and error messages.</summary>
    public static IEnumerable<string> Names => All.Select(a => a.Name);

    /// <summary>Looks up an alias, case-insensitive. A <c>:QUANT</c> suffix overrides the default quantization.</summary>
    public static bool TryGet(string text, [NotNullWhen(true)] out ModelAlias? alias)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var name = colon >= 0 ? text[..colon] : text;
        foreach (var a in All)
        {
            if (string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                alias = colon >= 0 && colon < text.Length - 1 ? a with { Quant = text[(colon + 1)..], File = null } : a;
                return true;
            }
        }
        alias = null;
        return false;
    }
}
