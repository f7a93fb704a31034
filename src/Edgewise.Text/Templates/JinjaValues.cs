using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Edgewise.Text.Templates;

/// <summary>
/// An ordered string-keyed mapping: the template-side view of a JSON object or a Python dict.
/// Template values are plain objects: <c>null</c> (None), <see cref="bool"/>, <see cref="long"/>, <see cref="double"/>,
/// <see cref="string"/>, <see cref="List{T}"/> of values, <see cref="JinjaDict"/>, plus the interpreter's own
/// <see cref="JinjaUndefined"/>, namespaces, macros and callables.
/// </summary>
public sealed class JinjaDict : OrderedDictionary<string, object?>
{
    public JinjaDict() : base(StringComparer.Ordinal) { }
}

/// <summary>A name or key that does not exist. Prints as "", is falsy, and fails on attribute access.</summary>
public sealed class JinjaUndefined
{
    public static readonly JinjaUndefined Instance = new("value");

    public JinjaUndefined(string name) => Name = name;

    /// <summary>What was looked up, for error messages.</summary>
    public string Name { get; }

    public override string ToString() => "";
}

/// <summary>Jinja's <c>namespace()</c>: a mutable bag whose attributes survive loop scopes.</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>Arguments of a call: positional values, then keyword values in source order.</summary>
internal sealed class CallArgs
{
    public static readonly CallArgs Empty = new();

    public List<object?> Positional { get; } = [];

    public List<KeyValuePair<string, object?>> Named { get; } = [];

    public object? Get(int index, string name, object? fallback)
    {
        foreach (var (key, value) in Named)
        {
            if (key == name) return value;
        }

        return index >= 0 && index < Positional.Count ? Positional[index] : fallback;
    }
}

/// <summary>A built-in function or a bound method (<c>range</c>, <c>dict.get</c>, <c>str.split</c>, ...).</summary>
internal sealed class JinjaCallable(string name, Func<CallArgs, object?> invoke)
{
    public string Name { get; } = name;

    public object? Invoke(CallArgs args) => invoke(args);
}

/// <summary>Conversions into the template value model and Python-compatible printing, truthiness and comparison.</summary>
public static class JinjaValues
{
    /// <summary>Builds a template value from parsed JSON (objects keep their key order).</summary>
    public static object? FromJson(JsonNode? node) => node switch
    {
        null => null,
        JsonObject obj => FromObject(obj),
        JsonArray arr => FromArray(arr),
        JsonValue value => value.TryGetValue<JsonElement>(out var element) ? FromJson(element) : ParseJson(value.ToJsonString()),
        _ => throw new TemplateException($"unsupported JSON node {node.GetType().Name}"),
    };

    /// <summary>Builds a template value from a JSON element (objects keep their key order).</summary>
    public static object? FromJson(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                return null;
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.String:
                return element.GetString();
            case JsonValueKind.Number:
                // Python's json.loads keeps 21 an int and 21.0 a float; so do we.
                var raw = element.GetRawText();
                if (raw.AsSpan().IndexOfAny('.', 'e', 'E') < 0 && element.TryGetInt64(out var integer)) return integer;
                return element.GetDouble();
            case JsonValueKind.Array:
                var list = new List<object?>(element.GetArrayLength());
                foreach (var item in element.EnumerateArray()) list.Add(FromJson(item));
                return list;
            case JsonValueKind.Object:
                var dict = new JinjaDict();
                foreach (var property in element.EnumerateObject()) dict[property.Name] = FromJson(property.Value);
                return dict;
            default:
                throw new TemplateException($"unsupported JSON value kind {element.ValueKind}");
        }
    }

    /// <summary>Parses JSON text into a template value.</summary>
    public static object? ParseJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return FromJson(document.RootElement);
    }

    private static JinjaDict FromObject(JsonObject obj)
    {
        var dict = new JinjaDict();
        foreach (var (key, value) in obj) dict[key] = FromJson(value);
        return dict;
    }

    private static List<object?> FromArray(JsonArray arr)
    {
        var list = new List<object?>(arr.Count);
        foreach (var item in arr) list.Add(FromJson(item));
        return list;
    }

    /// <summary>Python truthiness: None, undefined, False, 0, "", empty list and empty dict are false.</summary>
    public static bool IsTruthy(object? value) => value switch
    {
        null or JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        JinjaDict dict => dict.Count > 0,
        _ => true,
    };

    /// <summary>Python <c>str(value)</c>, which is what <c>{{ value }}</c> prints.</summary>
    public static string ToPythonString(object? value) => value switch
    {
        string s => s,
        null => "None",
        JinjaUndefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        _ => Repr(value),
    };

    /// <summary>Python <c>repr(value)</c> (strings quoted), used inside printed lists and dicts.</summary>
    public static string Repr(object? value)
    {
        switch (value)
        {
            case string s:
                return ReprString(s);
            case List<object?> list:
                var sb = new StringBuilder("[");
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    sb.Append(Repr(list[i]));
                }

                return sb.Append(']').ToString();
            case JinjaDict dict:
                var db = new StringBuilder("{");
                var first = true;
                foreach (var (key, item) in dict)
                {
                    if (!first) db.Append(", ");
                    first = false;
                    db.Append(ReprString(key)).Append(": ").Append(Repr(item));
                }

                return db.Append('}').ToString();
            case JinjaNamespace:
                return "<Namespace>";
            case JinjaCallable callable:
                return $"<built-in function {callable.Name}>";
            case JinjaMacro macro:
                return $"<Macro '{macro.Name}'>";
            default:
                return ToPythonString(value);
        }
    }

    private static string ReprString(string s)
    {
        var quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2).Append(quote);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }

        return sb.Append(quote).ToString();
    }

    /// <summary>Python <c>repr(float)</c>: shortest round-trip digits, ".0" on integers, exponent past 1e16 or below 1e-4.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";

        // "R" gives the shortest round-trip digits; re-lay them out the way CPython's float_repr does.
        var shortest = d.ToString("R", CultureInfo.InvariantCulture);
        var negative = shortest[0] == '-';
        var body = negative ? shortest[1..] : shortest;
        var exponent = 0;
        var ePos = body.IndexOf('E', StringComparison.Ordinal);
        if (ePos >= 0)
        {
            exponent = int.Parse(body[(ePos + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            body = body[..ePos];
        }

        var dot = body.IndexOf('.', StringComparison.Ordinal);
        var intPart = dot >= 0 ? body[..dot] : body;
        var fracPart = dot >= 0 ? body[(dot + 1)..] : "";
        var digits = (intPart + fracPart).TrimStart('0');
        var leadingZeros = (intPart + fracPart).Length - digits.Length;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";

        // decpt: value = 0.DIGITS x 10^decpt
        var decpt = intPart.Length - leadingZeros + exponent;
        var sb = new StringBuilder();
        if (negative) sb.Append('-');
        if (decpt <= -4 || decpt > 16)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            var e = decpt - 1;
            sb.Append('e').Append(e < 0 ? '-' : '+').Append(Math.Abs(e).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (decpt <= 0)
        {
            sb.Append("0.").Append('0', -decpt).Append(digits);
        }
        else if (decpt >= digits.Length)
        {
            sb.Append(digits).Append('0', decpt - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits, 0, decpt).Append('.').Append(digits, decpt, digits.Length - decpt);
        }

        return sb.ToString();
    }

    internal static bool IsNumber(object? value) => value is long or double or bool;

    internal static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new TemplateException($"expected a number, found {TypeName(value)}"),
    };

    /// <summary>Python <c>==</c> (1 == 1.0 == True; lists and dicts compare by content).</summary>
    public static bool PyEquals(object? a, object? b)
    {
        if (a is JinjaUndefined || b is JinjaUndefined) return a is JinjaUndefined && b is JinjaUndefined;
        if (a is null || b is null) return a is null && b is null;
        if (a is string sa) return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is long la && b is long lb) return la == lb;
            return ToDouble(a) == ToDouble(b);
        }

        if (a is List<object?> listA)
        {
            if (b is not List<object?> listB || listA.Count != listB.Count) return false;
            for (var i = 0; i < listA.Count; i++)
            {
                if (!PyEquals(listA[i], listB[i])) return false;
            }

            return true;
        }

        if (a is JinjaDict dictA)
        {
            if (b is not JinjaDict dictB || dictA.Count != dictB.Count) return false;
            foreach (var (key, value) in dictA)
            {
                if (!dictB.TryGetValue(key, out var other) || !PyEquals(value, other)) return false;
            }

            return true;
        }

        return ReferenceEquals(a, b);
    }

    /// <summary>Python ordering for numbers, strings (by code point) and lists.</summary>
    public static int PyCompare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a).CompareTo(ToDouble(b));
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        if (a is List<object?> la && b is List<object?> lb)
        {
            for (var i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (!PyEquals(la[i], lb[i])) return PyCompare(la[i], lb[i]);
            }

            return la.Count.CompareTo(lb.Count);
        }

        throw new TemplateException($"cannot order {TypeName(a)} and {TypeName(b)}");
    }

    /// <summary>The Python type name of a value, for error messages.</summary>
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        JinjaUndefined u => $"undefined ('{u.Name}')",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        JinjaDict => "dict",
        JinjaNamespace => "namespace",
        JinjaMacro => "macro",
        JinjaCallable => "function",
        _ => value.GetType().Name,
    };
}
