namespace Edgewise.Models.Common;

/// <summary>
/// The GGUF tensors a Gemma forward pass reads a row at a time, never whole: the PLE table, the token embedding when a
/// separate output head exists, and MoE experts (only the routed ones). Loading never maps them whole (no prefault, no
/// huge-page advice), and writers store them so the page cache keeps them in small folios: Linux 6.x maps a whole
/// cached large folio on the first touch of any of its pages, so a 2 MiB folio of the PLE table would put 2 MiB in the
/// resident set for one 4 KiB row (measured: 330 MB of PLE resident after 264 tokens, instead of 4 MB).
/// </summary>
public static class RowTables
{
    private const string PerLayerTokenEmbedding = "per_layer_token_embd.weight";
    private const string TokenEmbedding = "token_embd.weight";
    private const string Output = "output.weight";

    /// <summary>The row-read tensors among <paramref name="tensorNames"/> (the names of one GGUF file).</summary>
    public static HashSet<string> Of(IEnumerable<string> tensorNames)
    {
        var names = new HashSet<string>(tensorNames, StringComparer.Ordinal);
        var rows = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in names)
        {
            if (name == PerLayerTokenEmbedding || name.Contains("_exps.", StringComparison.Ordinal)) rows.Add(name);
        }
        if (names.Contains(Output) && names.Contains(TokenEmbedding)) rows.Add(TokenEmbedding);
        return rows;
    }
}
