namespace Edgewise.Hub;

/// <summary>
/// What the user typed to name a model, parsed: a short alias (<c>gemma-4-e2b</c>), <c>hf.co/ORG/REPO[:QUANT]</c>,
/// or <c>ORG/REPO[:QUANT]</c> with an optional explicit file. The file inside the repository is chosen later,
/// from the hub's listing (or the local store), by <see cref="File"/> or else by <see cref="Quant"/>.
/// </summary>
public sealed record ModelReference
{
    public const string DefaultRevision = "main";

    /// <summary>Hub repository id, <c>org/name</c>.</summary>
    public required string Repository { get; init; }

    /// <summary>Exact file path inside the repository, when given with <c>--file</c> or by the alias table.</summary>
    public string? File { get; init; }

    /// <summary>Quantization tag (<c>Q4_0</c>, <c>Q4_K_M</c>) that selects a <c>*TAG*.gguf</c> file, case-insensitive.</summary>
    public string? Quant { get; init; }

    /// <summary>Branch, tag or commit sha.</summary>
    public string Revision { get; init; } = DefaultRevision;

    /// <summary>The alias this reference came from, if any (kept so <c>list</c> can show it).</summary>
    public string? Alias { get; init; }

    /// <summary>The text as the user typed it, for messages.</summary>
    public required string Text { get; init; }

    /// <summary>Parses a model name. <paramref name="file"/> and <paramref name="revision"/> come from CLI options.</summary>
    /// <exception cref="FormatException">The text is none of the accepted shapes; the message lists them.</exception>
    public static ModelReference Parse(string text, string? file = null, string? revision = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var rev = string.IsNullOrWhiteSpace(revision) ? DefaultRevision : revision.Trim();

        if (ModelAliases.TryGet(trimmed, out var alias))
        {
            return new ModelReference
            {
                Repository = alias.Repository,
                // An explicit --file or --revision still wins over the alias defaults.
                File = file ?? alias.File,
                Quant = alias.Quant,
                Revision = rev,
                Alias = alias.Name,
                Text = trimmed,
            };
        }

        var body = trimmed;
        foreach (var prefix in HostPrefixes)
        {
            if (body.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                body = body[prefix.Length..];
                break;
            }
        }

        string? quant = null;
        var colon = body.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            quant = body[(colon + 1)..];
            body = body[..colon];
            if (quant.Length == 0 || !IsIdentifier(quant, allowSlash: false))
            {
                throw new FormatException($"Model reference '{text}': expected a quantization tag after ':' (e.g. Q4_0), found '{quant}'.");
            }
        }

        var slash = body.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == body.Length - 1 || body.IndexOf('/', slash + 1) >= 0 || !IsIdentifier(body, allowSlash: true))
        {
            throw new FormatException(
                $"Model reference '{text}' is not understood. Expected an alias ({string.Join(", ", ModelAliases.Names)}), " +
                "'hf.co/ORG/REPO[:QUANT]', 'ORG/REPO' with --file, or a path to a local .gguf file.");
        }

        return new ModelReference { Repository = body, File = file, Quant = quant, Revision = rev, Text = trimmed };
    }

    /// <summary>The command a user runs to fetch this model, for error messages.</summary>
    public string PullCommand =>
        "edgewise pull " + Text + (File is not null && Alias is null ? " --file " + File : "") +
        (Revision != DefaultRevision ? " --revision " + Revision : "");

    private static readonly string[] HostPrefixes = ["https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "hf.co/"];

    private static bool IsIdentifier(string s, bool allowSlash)
    {
        foreach (var c in s)
        {
            var ok = char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' || (allowSlash && c == '/');
            if (!ok)
            {
                return false;
            }
        }
        return !s.Contains("..", StringComparison.Ordinal);
    }
}
