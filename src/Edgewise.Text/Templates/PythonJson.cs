using System.Globalization;
using System.Text;

namespace Edgewise.Text.Templates;

/// <summary>
/// Python's <c>json.dumps</c> as transformers' <c>tojson</c> filter calls it: default separators ", " and ": "
/// (or "," and ": " when indenting), <c>ensure_ascii=False</c> unless asked, keys in insertion order unless sorted.
/// </summary>
internal static class PythonJson
{
    public static string Dumps(object? value, int? indent, bool ensureAscii, string? itemSeparator, string? keySeparator, bool sortKeys)
    {
        var sb = new StringBuilder();
        var options = new Options(
            indent,
            ensureAscii,
            itemSeparator ?? (indent is null ? ", " : ","),
            keySeparator ?? ": ",
            sortKeys);
        Write(sb, value, options, 0);
        return sb.ToString();
    }

    private sealed record Options(int? Indent, bool EnsureAscii, string ItemSeparator, string KeySeparator, bool SortKeys);

    private static void Write(StringBuilder sb, object? value, Options options, int depth)
    {
        switch (value)
        {
            case null:
                sb.Append("null");
                break;
            case bool b:
                sb.Append(b ? "true" : "false");
                break;
            case long l:
                sb.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : JinjaValues.FormatFloat(d));
                break;
            case string s:
                WriteString(sb, s, options.EnsureAscii);
                break;
            case List<object?> list:
                WriteContainer(sb, '[', ']', list.Count, options, depth, (i, b) => Write(b, list[i], options, depth + 1));
                break;
            case JinjaDict dict:
                var entries = new List<KeyValuePair<string, object?>>(dict);
                if (options.SortKeys) entries.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));
                WriteContainer(sb, '{', '}', entries.Count, options, depth, (i, b) =>
                {
                    WriteString(b, entries[i].Key, options.EnsureAscii);
                    b.Append(options.KeySeparator);
                    Write(b, entries[i].Value, options, depth + 1);
                });
                break;
            case JinjaNamespace ns:
                var nsDict = new JinjaDict();
                foreach (var (key, item) in ns.Attributes) nsDict[key] = item;
                Write(sb, nsDict, options, depth);
                break;
            default:
                throw new TemplateException($"tojson: object of type {JinjaValues.TypeName(value)} is not JSON serializable");
        }
    }

    private static void WriteContainer(StringBuilder sb, char open, char close, int count, Options options, int depth, Action<int, StringBuilder> writeItem)
    {
        sb.Append(open);
        if (count == 0)
        {
            sb.Append(close);
            return;
        }

        for (var i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(options.ItemSeparator);
            if (options.Indent is { } indent) sb.Append('\n').Append(' ', indent * (depth + 1));
            writeItem(i, sb);
        }

        if (options.Indent is { } outer) sb.Append('\n').Append(' ', outer * depth);
        sb.Append(close);
    }

    /// <summary>Python's string encoder: short escapes for the usual five, \u00XX for other controls.</summary>
    public static void WriteString(StringBuilder sb, string s, bool ensureAscii)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ensureAscii && c > 0x7e))
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }
}
