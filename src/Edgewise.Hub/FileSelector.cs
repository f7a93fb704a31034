namespace Edgewise.Hub;

/// <summary>Picks the model file a reference means from a repository listing, the way llama.cpp's <c>-hf REPO:QUANT</c> does.</summary>
internal static class FileSelector
{
    // llama.cpp and Ollama default to Q4_K_M when no tag is given; Q4_0 is the QAT repos' only quant.
    private static readonly string[] DefaultQuants = ["Q4_K_M", "Q4_0"];

    public static HubFile Select(ModelReference reference, IReadOnlyList<HubFile> files)
    {
        var models = files.Where(f => IsModelFile(f.Path)).ToList();
        if (reference.File is { } wanted)
        {
            var exact = files.FirstOrDefault(f => f.Path == wanted)
                ?? files.FirstOrDefault(f => string.Equals(f.Path, wanted, StringComparison.OrdinalIgnoreCase));
            return exact ?? throw NotFound(reference, $"has no file '{wanted}'", Closest(wanted, files.Select(f => f.Path)));
        }
        if (reference.Quant is { } quant)
        {
            return PickByQuant(models, quant)
                ?? throw NotFound(reference, $"has no .gguf file matching *{quant}*", models.Select(f => f.Path).Order(StringComparer.Ordinal).Take(12));
        }
        if (models.Count == 1)
        {
            return models[0];
        }
        foreach (var q in DefaultQuants)
        {
            if (PickByQuant(models, q) is { } pick)
            {
                return pick;
            }
        }
        if (models.Count == 0)
        {
            throw NotFound(reference, "has no .gguf model file", files.Select(f => f.Path).Take(12));
        }
        throw new HubException(HubErrorKind.AmbiguousFile,
            $"Repository '{reference.Repository}' holds {models.Count} model files; name one with :QUANT or --file. Candidates: {string.Join(", ", models.Select(f => f.Path).Take(12))}")
        { Repository = reference.Repository };
    }

    /// <summary>True when <paramref name="path"/>'s file name contains <paramref name="quant"/> as a whole tag (case-insensitive).</summary>
    public static bool MatchesQuant(string path, string quant) => TagScore(FileName(path), quant) > 0;

    public static bool IsModelFile(string path) =>
        path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && !FileName(path).Contains("mmproj", StringComparison.OrdinalIgnoreCase);

    private static HubFile? PickByQuant(List<HubFile> models, string quant)
    {
        // A whole-tag match ("-Q4_0." / "_q4_0-") beats a prefix one ("Q4_0_4_4"); among equals the shortest
        // name wins, which prefers the plain file over decorated variants like "UD-Q4_K_M".
        HubFile? best = null;
        var bestScore = 0;
        foreach (var f in models)
        {
            var score = TagScore(FileName(f.Path), quant);
            if (score > bestScore || (score == bestScore && score > 0 && best is not null && f.Path.Length < best.Path.Length))
            {
                best = f;
                bestScore = score;
            }
        }
        return best;
    }

    private static int TagScore(string name, string quant)
    {
        var score = 0;
        for (var at = name.IndexOf(quant, StringComparison.OrdinalIgnoreCase); at >= 0; at = name.IndexOf(quant, at + 1, StringComparison.OrdinalIgnoreCase))
        {
            var end = at + quant.Length;
            var startsClean = at == 0 || !char.IsAsciiLetterOrDigit(name[at - 1]);
            var endsClean = end == name.Length || !(char.IsAsciiLetterOrDigit(name[end]) || name[end] == '_');
            score = Math.Max(score, startsClean && endsClean ? 2 : 1);
        }
        return score;
    }

    private static string FileName(string path) => path[(path.LastIndexOf('/') + 1)..];

    private static HubException NotFound(ModelReference reference, string what, IEnumerable<string> candidates)
    {
        var list = candidates.ToList();
        var hint = list.Count > 0 ? " Close matches: " + string.Join(", ", list) : "";
        return new HubException(HubErrorKind.NotFound, $"Repository '{reference.Repository}' at '{reference.Revision}' {what}.{hint}")
        { Repository = reference.Repository, FileName = reference.File };
    }

    private static IEnumerable<string> Closest(string wanted, IEnumerable<string> names) =>
        names.Select(n => (Name: n, Distance: EditDistance(wanted.ToLowerInvariant(), n.ToLowerInvariant())))
            .OrderBy(p => p.Distance).ThenBy(p => p.Name, StringComparer.Ordinal).Take(5).Select(p => p.Name);

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
