using System.Globalization;

namespace Edgewise.Compare;

/// <summary><c>--name value</c> pairs; every option has a default that reproduces the published table.</summary>
internal sealed class CompareArgs
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public static CompareArgs Parse(string[] args)
    {
        var parsed = new CompareArgs();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'; options look like --rounds 3.");
            }
            bool hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            parsed._values[args[i][2..]] = hasValue ? args[++i] : "true";
        }
        return parsed;
    }

    public string Get(string name, string fallback) => _values.TryGetValue(name, out string? v) ? v : fallback;
    public int GetInt(string name, int fallback) => _values.TryGetValue(name, out string? v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public bool Has(string name) => _values.ContainsKey(name);
}
