using System.Globalization;
using System.Text;

namespace Edgewise.Text.Templates;

/// <summary>Filters (<c>x | name(args)</c>) and tests (<c>x is name</c>) of the supported subset.</summary>
internal static partial class JinjaBuiltins
{
    public static object? ApplyFilter(RenderContext ctx, string name, object? value, CallArgs args)
    {
        switch (name)
        {
            case "trim":
                return Strip(JinjaValues.ToPythonString(value), args.Get(0, "chars", null), true, true);
            case "upper":
                return JinjaValues.ToPythonString(value).ToUpperInvariant();
            case "lower":
                return JinjaValues.ToPythonString(value).ToLowerInvariant();
            case "capitalize":
                return Capitalize(JinjaValues.ToPythonString(value));
            case "title":
                return Title(JinjaValues.ToPythonString(value));
            case "string":
                return JinjaValues.ToPythonString(value);
            case "length":
            case "count":
                return value switch
                {
                    string s => CodePointLength(s),
                    List<object?> l => (long)l.Count,
                    JinjaDict d => (long)d.Count,
                    JinjaUndefined => 0L,
                    _ => throw new TemplateException($"object of type {JinjaValues.TypeName(value)} has no length"),
                };
            case "default":
            case "d":
                var fallback = args.Get(0, "default_value", "");
                var boolean = JinjaValues.IsTruthy(args.Get(1, "boolean", false));
                return value is JinjaUndefined || (boolean && !JinjaValues.IsTruthy(value)) ? fallback : value;
            case "list":
                return new List<object?>(Iterate(value));
            case "first":
                var firstItems = Iterate(value);
                return firstItems.Count > 0 ? firstItems[0] : new JinjaUndefined("first of empty sequence");
            case "last":
                var lastItems = Iterate(value);
                return lastItems.Count > 0 ? lastItems[^1] : new JinjaUndefined("last of empty sequence");
            case "reverse":
                if (value is string rs)
                {
                    var chars = rs.ToCharArray();
                    Array.Reverse(chars);
                    return new string(chars);
                }

                var reversed = new List<object?>(Iterate(value));
                reversed.Reverse();
                return reversed;
            case "join":
                var joinItems = Iterate(value);
                if (args.Get(1, "attribute", null) is string joinAttribute) joinItems = joinItems.Select(i => GetItem(i, joinAttribute)).ToList();
                return Join(joinItems, JinjaValues.ToPythonString(args.Get(0, "d", "")));
            case "replace":
                return Replace(JinjaValues.ToPythonString(value), args.Get(0, "old", null), args.Get(1, "new", null), args.Get(2, "count", -1L));
            case "int":
                return ToIntFilter(value, args.Get(0, "default", 0L));
            case "float":
                return value switch
                {
                    long l => (double)l,
                    double d => d,
                    bool b => b ? 1.0 : 0.0,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
                    _ => args.Get(0, "default", 0.0),
                };
            case "abs":
                return value switch
                {
                    long l => (object)Math.Abs(l),
                    double d => (object)Math.Abs(d),
                    _ => throw new TemplateException($"abs: expected a number, found {JinjaValues.TypeName(value)}"),
                };
            case "items":
                return value switch
                {
                    JinjaDict dict => Items(dict),
                    JinjaUndefined => new List<object?>(),
                    _ => throw new TemplateException($"items: expected a mapping, found {JinjaValues.TypeName(value)}"),
                };
            case "dictsort":
                return DictSort(value, args);
            case "tojson":
                return ToJson(value, args);
            case "indent":
                return Indent(JinjaValues.ToPythonString(value), args);
            case "map":
                return Map(ctx, value, args);
            case "select":
            case "reject":
                return Select(value, args, attribute: false, keep: name == "select");
            case "selectattr":
            case "rejectattr":
                return Select(value, args, attribute: true, keep: name == "selectattr");
            case "unique":
                var unique = new List<object?>();
                foreach (var item in Iterate(value))
                {
                    if (!unique.Any(u => JinjaValues.PyEquals(u, item))) unique.Add(item);
                }

                return unique;
            case "sort":
                var sorted = new List<object?>(Iterate(value));
                var sortAttribute = args.Get(2, "attribute", null) as string;
                var sortReverse = JinjaValues.IsTruthy(args.Get(0, "reverse", false));
                var keyed = sorted.Select((item, i) => (Key: sortAttribute is null ? item : GetItem(item, sortAttribute), Item: item, Index: i)).ToList();
                keyed.Sort((a, b) =>
                {
                    var c = JinjaValues.PyCompare(a.Key, b.Key);
                    return c != 0 ? (sortReverse ? -c : c) : a.Index.CompareTo(b.Index);
                });
                return keyed.Select(k => k.Item).ToList();
            case "sum":
                object? total = 0L;
                foreach (var item in Iterate(value))
                {
                    total = total is long t && item is long l ? (object)(t + l) : JinjaValues.ToDouble(total) + JinjaValues.ToDouble(item);
                }

                return total;
            case "safe":
                // Autoescaping is off for chat templates, so marking text safe changes nothing.
                return value;
            default:
                throw new TemplateException($"unsupported filter '{name}'");
        }
    }

    public static bool ApplyTest(string name, object? value, List<object?> args)
    {
        switch (name)
        {
            case "defined": return value is not JinjaUndefined;
            case "undefined": return value is JinjaUndefined;
            case "none": return value is null;
            case "boolean": return value is bool;
            case "true": return value is true;
            case "false": return value is false;
            case "string": return value is string;
            case "number": return value is long or double;
            case "integer": return value is long;
            case "float": return value is double;
            case "mapping": return value is JinjaDict;
            // Jinja2's Undefined has __len__, __getitem__ and __iter__, so it passes both (and iterates as empty).
            case "sequence": return value is List<object?> or string or JinjaDict or JinjaUndefined;
            case "iterable": return value is List<object?> or string or JinjaDict or JinjaUndefined;
            case "callable": return value is JinjaMacro or JinjaCallable;
            case "odd": return ToLong(value, "odd") % 2 != 0;
            case "even": return ToLong(value, "even") % 2 == 0;
            case "divisibleby": return ToLong(value, "divisibleby") % ToLong(Arg(args, 0, name), "divisibleby") == 0;
            case "lower": return value is string lower && lower == lower.ToLowerInvariant();
            case "upper": return value is string upper && upper == upper.ToUpperInvariant();
            case "eq" or "equalto" or "==": return JinjaValues.PyEquals(value, Arg(args, 0, name));
            case "ne" or "!=": return !JinjaValues.PyEquals(value, Arg(args, 0, name));
            case "lt" or "lessthan" or "<": return JinjaValues.PyCompare(value, Arg(args, 0, name)) < 0;
            case "le" or "<=": return JinjaValues.PyCompare(value, Arg(args, 0, name)) <= 0;
            case "gt" or "greaterthan" or ">": return JinjaValues.PyCompare(value, Arg(args, 0, name)) > 0;
            case "ge" or ">=": return JinjaValues.PyCompare(value, Arg(args, 0, name)) >= 0;
            case "in": return Contains(Arg(args, 0, name), value);
            case "sameas": return ReferenceEquals(value, Arg(args, 0, name)) || (value is null && Arg(args, 0, name) is null) || (value is bool b && Arg(args, 0, name) is bool c && b == c);
            default: throw new TemplateException($"unsupported test '{name}'");
        }
    }

    private static object? Arg(List<object?> args, int index, string test) =>
        index < args.Count ? args[index] : throw new TemplateException($"test '{test}' needs an argument");

    private static object? ToIntFilter(object? value, object? fallback) => value switch
    {
        long l => l,
        bool b => b ? 1L : 0L,
        double d => (long)Math.Truncate(d),
        string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) => parsed,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsedDouble) => (long)Math.Truncate(parsedDouble),
        _ => fallback,
    };

    /// <summary>Jinja2 <c>dictsort</c>: items sorted by key (or value), case-insensitively unless asked; stable.</summary>
    private static List<object?> DictSort(object? value, CallArgs args)
    {
        if (value is not JinjaDict dict) throw new TemplateException($"dictsort: expected a mapping, found {JinjaValues.TypeName(value)}");
        var caseSensitive = JinjaValues.IsTruthy(args.Get(0, "case_sensitive", false));
        var by = args.Get(1, "by", "key") as string;
        var reverse = JinjaValues.IsTruthy(args.Get(2, "reverse", false));
        if (by is not ("key" or "value")) throw new TemplateException("dictsort: 'by' must be 'key' or 'value'");
        var entries = new List<(object? Key, int Index, List<object?> Pair)>(dict.Count);
        var n = 0;
        foreach (var (key, item) in dict)
        {
            object? sortKey = by == "key" ? key : item;
            if (!caseSensitive && sortKey is string s) sortKey = s.ToLowerInvariant();
            entries.Add((sortKey, n++, new List<object?> { key, item }));
        }

        entries.Sort((a, b) =>
        {
            var c = JinjaValues.PyCompare(a.Key, b.Key);
            if (reverse) c = -c;
            return c != 0 ? c : a.Index.CompareTo(b.Index);
        });
        var result = new List<object?>(entries.Count);
        foreach (var entry in entries) result.Add(entry.Pair);
        return result;
    }

    /// <summary>transformers' <c>tojson</c>: <c>json.dumps(x, ensure_ascii=False, indent=indent, separators=..., sort_keys=...)</c>.</summary>
    private static string ToJson(object? value, CallArgs args)
    {
        if (value is JinjaUndefined u) throw new TemplateException($"tojson: '{u.Name}' is undefined");
        int? indent = args.Get(0, "indent", null) switch
        {
            null or JinjaUndefined => null,
            long l => (int)l,
            var other => throw new TemplateException($"tojson: indent must be an integer, found {JinjaValues.TypeName(other)}"),
        };
        var ensureAscii = JinjaValues.IsTruthy(args.Get(-1, "ensure_ascii", false));
        var sortKeys = JinjaValues.IsTruthy(args.Get(-1, "sort_keys", false));
        string? itemSeparator = null, keySeparator = null;
        if (args.Get(-1, "separators", null) is List<object?> { Count: 2 } separators)
        {
            itemSeparator = RequireString(separators[0], "tojson separators");
            keySeparator = RequireString(separators[1], "tojson separators");
        }

        return PythonJson.Dumps(value, indent, ensureAscii, itemSeparator, keySeparator, sortKeys);
    }

    /// <summary>Jinja2 <c>indent(width=4, first=False, blank=False)</c>.</summary>
    private static string Indent(string text, CallArgs args)
    {
        var width = args.Get(0, "width", 4L) switch
        {
            long l => new string(' ', (int)l),
            string s => s,
            var other => throw new TemplateException($"indent: width must be an integer or string, found {JinjaValues.TypeName(other)}"),
        };
        var first = JinjaValues.IsTruthy(args.Get(1, "first", false));
        var blank = JinjaValues.IsTruthy(args.Get(2, "blank", false));
        var lines = text.Split('\n');
        var sb = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            if (i > 0) sb.Append('\n');
            var indentThis = (i > 0 || first) && (blank || lines[i].Length > 0);
            if (indentThis) sb.Append(width);
            sb.Append(lines[i]);
        }

        return sb.ToString();
    }

    private static List<object?> Map(RenderContext ctx, object? value, CallArgs args)
    {
        var items = Iterate(value);
        var result = new List<object?>(items.Count);
        if (args.Get(-1, "attribute", null) is string attribute)
        {
            var fallback = args.Get(-1, "default", null);
            foreach (var item in items)
            {
                var v = GetItem(item, attribute);
                result.Add(v is JinjaUndefined && fallback is not null ? fallback : v);
            }

            return result;
        }

        if (args.Positional.Count == 0 || args.Positional[0] is not string filterName)
        {
            throw new TemplateException("map: expected a filter name or attribute=");
        }

        var rest = new CallArgs();
        rest.Positional.AddRange(args.Positional.Skip(1));
        rest.Named.AddRange(args.Named);
        foreach (var item in items) result.Add(ApplyFilter(ctx, filterName, item, rest));
        return result;
    }

    private static List<object?> Select(object? value, CallArgs args, bool attribute, bool keep)
    {
        var items = Iterate(value);
        var offset = attribute ? 1 : 0;
        var attributeName = attribute ? RequireString(args.Get(0, "attribute", null), "selectattr") : null;
        var testName = args.Positional.Count > offset ? RequireString(args.Positional[offset], "select test") : null;
        var testArgs = args.Positional.Skip(offset + 1).ToList();
        var result = new List<object?>();
        foreach (var item in items)
        {
            var subject = attributeName is null ? item : GetItem(item, attributeName);
            var passed = testName is null ? JinjaValues.IsTruthy(subject) : ApplyTest(testName, subject, testArgs);
            if (passed == keep) result.Add(item);
        }

        return result;
    }
}
